// The dashboard's live feed: list, then WatchEvents from the listed revision; on a dropped
// connection resume from the last revision seen (no reload, nothing missed); when the server
// says that revision was compacted away, list again and watch from the new one (Kubernetes'
// "410 Gone"). Transport-free: the caller passes `list` and `watch`, so the loop is testable.
import { isRevisionCompacted } from "../api/errors";

/** What the loop is doing, for the connection indicator. */
export type WatchPhase =
  | { kind: "listing" }
  | { kind: "live"; revision: bigint }
  | { kind: "reconnecting"; revision: bigint; attempt: number; delayMs: number; error: unknown }
  | { kind: "stopped" };

/** The minimal shape of an event the loop needs. */
export interface RevisionedEvent {
  revision: bigint;
}

export interface WatchLoopDeps<E extends RevisionedEvent> {
  /** Load the current state; returns the revision it reflects. */
  list(signal: AbortSignal): Promise<bigint>;
  /** Events after `afterRevision`, until the stream ends or fails. */
  watch(afterRevision: bigint, signal: AbortSignal): AsyncIterable<E>;
  /** Called for every event in order (bookmarks included: they carry the revision). */
  onEvent(event: E): void;
  onPhase(phase: WatchPhase): void;
  /** Wait before a retry; resolves early (or rejects) when the signal aborts. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** 0..1; injectable so tests are deterministic. */
  random?(): number;
  /**
   * A stream silent for this long is presumed dead and reopened. The server sends a bookmark
   * after --event-bookmark-interval (30 s) of quiet, so a half-open connection (a laptop that
   * slept, a NAT that forgot us) is noticed instead of showing stale data as live.
   */
  idleTimeoutMs?: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 75_000;

/** Raised into the stream when it stayed silent past idleTimeoutMs. */
export class WatchIdleError extends Error {
  constructor(ms: number) {
    super(`no event or bookmark for ${Math.round(ms / 1000)} s`);
  }
}

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 8000;

/** Exponential backoff with full jitter: a uniform wait in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Run until `signal` aborts. Returns after the final `stopped` phase. `list` errors are retried
 * with backoff like watch errors; events with a revision at or below the last one are dropped
 * (a replay never applies the same change twice).
 */
export async function runWatchLoop<E extends RevisionedEvent>(
  deps: WatchLoopDeps<E>,
  signal: AbortSignal,
): Promise<void> {
  const sleep = deps.sleep ?? abortableSleep;
  const random = deps.random ?? Math.random;
  const idleTimeoutMs = deps.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let revision: bigint | undefined;
  let attempt = 0;

  while (!signal.aborted) {
    try {
      if (revision === undefined) {
        deps.onPhase({ kind: "listing" });
        revision = await deps.list(signal);
        attempt = 0;
      }
      deps.onPhase({ kind: "live", revision });
      const stream = new AbortController();
      const stopStream = () => stream.abort();
      signal.addEventListener("abort", stopStream, { once: true });
      let idle: ReturnType<typeof setTimeout> | undefined;
      let idleError: WatchIdleError | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idleError = new WatchIdleError(idleTimeoutMs);
          stream.abort(idleError);
        }, idleTimeoutMs);
      };
      try {
        arm();
        for await (const event of deps.watch(revision, stream.signal)) {
          arm();
          if (event.revision <= revision) continue;
          revision = event.revision;
          // A stream that delivers is healthy: the next failure starts the backoff from scratch.
          attempt = 0;
          deps.onEvent(event);
        }
      } catch (err) {
        throw idleError ?? err;
      } finally {
        clearTimeout(idle);
        signal.removeEventListener("abort", stopStream);
      }
      // The server ended the stream cleanly (e.g. a replica shutting down): resume at once.
    } catch (err) {
      if (signal.aborted) break;
      if (isRevisionCompacted(err)) {
        // Our position is gone: the state must be listed again, without waiting.
        revision = undefined;
        continue;
      }
      attempt += 1;
      const delayMs = backoffDelay(attempt, random);
      deps.onPhase({
        kind: "reconnecting",
        revision: revision ?? 0n,
        attempt,
        delayMs,
        error: err,
      });
      await sleep(delayMs, signal);
    }
  }
  deps.onPhase({ kind: "stopped" });
}
