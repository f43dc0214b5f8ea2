// WhoAmI at sign-in and at the page's start: asked again while the server cannot answer, never
// again once it refuses the session.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { WhoAmIResponseSchema } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { retryDelayMs, untilReached, whoAmIUntilAnswered } from "./whoAmI";

function answers(...outcomes: (Code | "ok")[]) {
  let calls = 0;
  const ask = async () => {
    const outcome = outcomes[Math.min(calls++, outcomes.length - 1)];
    if (outcome === "ok") return create(WhoAmIResponseSchema, { permissions: ["x"] });
    throw new ConnectError("no", outcome);
  };
  return { ask, calls: () => calls };
}

const slept: number[] = [];
const sleep = async (ms: number) => {
  slept.push(ms);
};

describe("whoAmIUntilAnswered", () => {
  it("asks again after the server could not answer, then returns its answer", async () => {
    slept.length = 0;
    const server = answers(Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, "ok");
    const me = await whoAmIUntilAnswered(server.ask, Infinity, sleep);
    expect(me.permissions).toEqual(["x"]);
    expect(server.calls()).toBe(4);
    expect(slept).toEqual([500, 1000, 2000]);
  });

  it("stops at once when the server refuses the session", async () => {
    for (const code of [Code.Unauthenticated, Code.PermissionDenied]) {
      const server = answers(Code.Unavailable, code, "ok");
      await expect(whoAmIUntilAnswered(server.ask, Infinity, sleep)).rejects.toMatchObject({
        code,
      });
      expect(server.calls()).toBe(2);
    }
  });

  it("pauses grow to four seconds", () => {
    expect([0, 1, 2, 3, 4, 9].map(retryDelayMs)).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
});

describe("untilReached (the sign-in)", () => {
  it("signs in again while the server cannot be reached, then returns its answer", async () => {
    slept.length = 0;
    const server = answers(Code.Unavailable, Code.Unavailable, "ok");
    const me = await untilReached(server.ask, 5, sleep);
    expect(me.permissions).toEqual(["x"]);
    expect(server.calls()).toBe(3);
    expect(slept).toEqual([500, 1000]);
  });

  it("signs in again after a fetch that failed (the connection dropped)", async () => {
    slept.length = 0;
    let calls = 0;
    const ask = async () => {
      // What fetch() throws when the network or Envoy drops the request.
      if (calls++ === 0) throw new TypeError("Failed to fetch");
      return create(WhoAmIResponseSchema, { permissions: ["x"] });
    };
    expect((await untilReached(ask, 5, sleep)).permissions).toEqual(["x"]);
    expect(calls).toBe(2);
    expect(slept).toEqual([500]);
  });

  it("stops at once on any other error: a wrong password is not tried again", async () => {
    for (const code of [Code.Unauthenticated, Code.ResourceExhausted, Code.Internal]) {
      const server = answers(code, "ok");
      await expect(untilReached(server.ask, 5, sleep)).rejects.toMatchObject({ code });
      expect(server.calls()).toBe(1);
    }
  });
});

describe("both", () => {
  it.each([
    ["whoAmIUntilAnswered", whoAmIUntilAnswered],
    ["untilReached", untilReached],
  ])("%s gives up after its tries with the last error", async (_, call) => {
    const server = answers(Code.Unavailable);
    await expect(call(server.ask, 5, sleep)).rejects.toMatchObject({ code: Code.Unavailable });
    expect(server.calls()).toBe(5);
  });
});
