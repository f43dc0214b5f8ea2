// The watch/resume state machine against scripted list/watch functions: every branch a real
// connection can take (drop, clean end, compaction, failing list, stop).
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  backoffDelay,
  BACKOFF_MAX_MS,
  runWatchLoop,
  WatchIdleError,
  type WatchPhase,
} from "./resume";

type Ev = { revision: bigint };
type Step = Ev | Error;

const compacted = () => {
  const err = new ConnectError("revision too old", Code.FailedPrecondition);
  err.details.push({
    type: "google.rpc.ErrorInfo",
    value: new BinaryWriter().uint32(10).string("REVISION_COMPACTED").finish(),
  });
  return err;
};
const dropped = () => new ConnectError("network error", Code.Unavailable);

/** Runs the loop over scripted watch sessions; the watch after the last one stops the loop. */
async function run(opts: { lists: bigint[]; sessions: Step[][]; listErrors?: number }) {
  const ctrl = new AbortController();
  const calls: string[] = [];
  const events: bigint[] = [];
  const phases: WatchPhase[] = [];
  const delays: number[] = [];
  let listErrors = opts.listErrors ?? 0;
  const lists = [...opts.lists];
  const sessions = [...opts.sessions];
  await runWatchLoop<Ev>(
    {
      async list() {
        calls.push("list");
        if (listErrors-- > 0) throw dropped();
        return lists.shift()!;
      },
      async *watch(after) {
        calls.push(`watch>${after}`);
        const session = sessions.shift();
        if (!session) {
          ctrl.abort();
          throw dropped();
        }
        for (const step of session) {
          if (step instanceof Error) throw step;
          yield step;
        }
      },
      onEvent: (e) => events.push(e.revision),
      onPhase: (p) => phases.push(p),
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 1,
    },
    ctrl.signal,
  );
  return { calls, events, phases, delays };
}

const ev = (r: number): Ev => ({ revision: BigInt(r) });

describe("runWatchLoop", () => {
  it("lists, watches from the listed revision and resumes after a drop from the last event", async () => {
    const r = await run({ lists: [10n], sessions: [[ev(11), ev(12), dropped()], [ev(13)]] });
    expect(r.calls).toEqual(["list", "watch>10", "watch>12", "watch>13"]);
    expect(r.events).toEqual([11n, 12n, 13n]);
    expect(r.phases.map((p) => p.kind)).toEqual([
      "listing",
      "live",
      "reconnecting",
      "live",
      "live",
      "stopped",
    ]);
  });

  it("re-lists on REVISION_COMPACTED, then watches from the new revision without waiting", async () => {
    const r = await run({ lists: [10n, 50n], sessions: [[compacted()], [ev(51)]] });
    expect(r.calls).toEqual(["list", "watch>10", "list", "watch>50", "watch>51"]);
    expect(r.events).toEqual([51n]);
    expect(r.delays).toEqual([]);
  });

  it("drops replayed events at or below the revision it already has", async () => {
    const r = await run({ lists: [10n], sessions: [[ev(9), ev(10), ev(11), ev(11), ev(12)]] });
    expect(r.events).toEqual([11n, 12n]);
  });

  it("resumes at once when the server ends the stream cleanly", async () => {
    const r = await run({ lists: [1n], sessions: [[ev(2)], [ev(3)]] });
    expect(r.calls).toEqual(["list", "watch>1", "watch>2", "watch>3"]);
    expect(r.delays).toEqual([]);
  });

  it("backs off on consecutive failures and starts over after a delivered event", async () => {
    const r = await run({
      lists: [1n],
      sessions: [[dropped()], [dropped()], [dropped()], [ev(2), dropped()]],
    });
    const attempts = r.phases.flatMap((p) => (p.kind === "reconnecting" ? [p.attempt] : []));
    expect(attempts).toEqual([1, 2, 3, 1]);
    expect(r.delays).toEqual([500, 1000, 2000, 500]);
  });

  it("retries a failing list with backoff", async () => {
    const r = await run({ lists: [7n], sessions: [[ev(8)]], listErrors: 2 });
    expect(r.calls.slice(0, 4)).toEqual(["list", "list", "list", "watch>7"]);
    expect(r.events).toEqual([8n]);
  });
});

describe("idle watchdog", () => {
  it("reopens a stream that went silent (no event, no bookmark) and resumes from its revision", async () => {
    const ctrl = new AbortController();
    const calls: string[] = [];
    const phases: WatchPhase[] = [];
    await runWatchLoop<Ev>(
      {
        list: async () => 5n,
        async *watch(after, signal) {
          calls.push(`watch>${after}`);
          if (calls.length > 1) {
            ctrl.abort();
            return;
          }
          yield ev(6);
          // Then silence, like a half-open TCP connection: only the abort ends the wait.
          await new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason)),
          );
        },
        onEvent: () => undefined,
        onPhase: (p) => phases.push(p),
        sleep: async () => undefined,
        idleTimeoutMs: 30,
      },
      ctrl.signal,
    );
    expect(calls).toEqual(["watch>5", "watch>6"]);
    const reconnect = phases.find((p) => p.kind === "reconnecting");
    expect(reconnect?.kind === "reconnecting" && reconnect.error).toBeInstanceOf(WatchIdleError);
  });
});

describe("backoffDelay", () => {
  it("never exceeds the cap and is full jitter", () => {
    expect(backoffDelay(1, () => 1)).toBe(500);
    expect(backoffDelay(30, () => 1)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(30, () => 0)).toBe(0);
  });
});
