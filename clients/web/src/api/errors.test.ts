// The error → sentence mapping, fed through the real grpc-web transport: each case is the HTTP
// response Envoy or the server would send (headers only, or a body with a trailer frame).
import { describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { CameraService } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { describeError, isRevisionCompacted, isUnimplemented } from "./errors";

type Detail = { type: string; value: Uint8Array };

const errorInfo = (reason: string): Detail => ({
  type: "google.rpc.ErrorInfo",
  value: new BinaryWriter().uint32(10).string(reason).uint32(18).string("camfleet.io").finish(),
});

const badRequest = (...violations: [string, string][]): Detail => {
  const w = new BinaryWriter();
  for (const [field, description] of violations) {
    w.uint32(10).bytes(
      new BinaryWriter().uint32(10).string(field).uint32(18).string(description).finish(),
    );
  }
  return { type: "google.rpc.BadRequest", value: w.finish() };
};

const retryInfo = (seconds: number, nanos: number): Detail => ({
  type: "google.rpc.RetryInfo",
  value: new BinaryWriter()
    .uint32(10)
    .bytes(new BinaryWriter().uint32(8).int64(seconds).uint32(16).int32(nanos).finish())
    .finish(),
});

/** google.rpc.Status, base64 — the grpc-status-details-bin value. */
function statusDetailsBin(code: number, message: string, details: Detail[]): string {
  const w = new BinaryWriter().uint32(8).int32(code).uint32(18).string(message);
  for (const d of details) {
    const any = new BinaryWriter()
      .uint32(10)
      .string(`type.googleapis.com/${d.type}`)
      .uint32(18)
      .bytes(d.value)
      .finish();
    w.uint32(26).bytes(any);
  }
  return btoa(String.fromCharCode(...w.finish())).replace(/=+$/, "");
}

function grpcStatusHeaders(
  code: number,
  message: string,
  details: Detail[] = [],
): Record<string, string> {
  const h: Record<string, string> = { "grpc-status": String(code) };
  if (message) h["grpc-message"] = encodeURIComponent(message);
  if (details.length) h["grpc-status-details-bin"] = statusDetailsBin(code, message, details);
  return h;
}

/** A grpc-web body holding only a trailer frame. */
function trailerFrame(headers: Record<string, string>): Uint8Array<ArrayBuffer> {
  const text = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const payload = new TextEncoder().encode(text);
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = 0x80;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return frame;
}

/** Call GetCamera against a server that answers with this response; return the thrown error. */
async function callAgainst(response: () => Response): Promise<unknown> {
  const transport = createGrpcWebTransport({
    baseUrl: "http://127.0.0.1:1",
    fetch: async () => response(),
  });
  try {
    await createClient(CameraService, transport).getCamera({ id: "x" });
  } catch (err) {
    return err;
  }
  throw new Error("the call unexpectedly succeeded");
}

const GRPC_WEB = { "content-type": "application/grpc-web+proto" };

describe("describeError", () => {
  it("reads a headers-only PERMISSION_DENIED with the server's message", async () => {
    const err = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: {
            ...GRPC_WEB,
            ...grpcStatusHeaders(
              Code.PermissionDenied,
              "vic (viewer) may not call CreateCamera: it needs the cameras.write permission",
              [errorInfo("PERMISSION_DENIED")],
            ),
          },
        }),
    );
    const d = describeError(err);
    expect(d.code).toBe(Code.PermissionDenied);
    expect(d.reason).toBe("PERMISSION_DENIED");
    expect(d.sentence).toBe(
      "Your account is not allowed to do this. The server said: “vic (viewer) may not call CreateCamera: it needs the cameras.write permission”.",
    );
  });

  it("explains a headers-only error that carries no message", async () => {
    const err = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: { ...GRPC_WEB, "grpc-status": String(Code.Unimplemented) },
        }),
    );
    expect(describeError(err).sentence).toBe(
      "The server does not support this action (it may be older than this page).",
    );
  });

  it("lists BadRequest field violations from the trailer frame", async () => {
    const trailer = grpcStatusHeaders(Code.InvalidArgument, "camera is not valid", [
      errorInfo("INVALID_ARGUMENT"),
      badRequest(["camera.name", "must not be empty"], ["camera.labels", "too many labels"]),
    ]);
    const err = await callAgainst(
      () => new Response(trailerFrame(trailer), { status: 200, headers: GRPC_WEB }),
    );
    const d = describeError(err);
    expect(d.violations).toEqual([
      { field: "camera.name", description: "must not be empty" },
      { field: "camera.labels", description: "too many labels" },
    ]);
    expect(d.sentence).toBe(
      "Some of what was entered is not valid. Camera.name: must not be empty. Camera.labels: too many labels.",
    );
  });

  it("shows the server's reason for refusing a weak password, field named in words", async () => {
    const why =
      "is too common or easy to guess (this is a top-10 common password). Add another word or two";
    const trailer = grpcStatusHeaders(Code.InvalidArgument, `new_password: ${why}`, [
      errorInfo("INVALID_ARGUMENT"),
      badRequest(["new_password", why]),
    ]);
    const err = await callAgainst(
      () => new Response(trailerFrame(trailer), { status: 200, headers: GRPC_WEB }),
    );
    expect(describeError(err).sentence).toBe(
      `Some of what was entered is not valid. New password: ${why}.`,
    );
  });

  it("turns RetryInfo into a wait the person can read", async () => {
    const err = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: {
            ...GRPC_WEB,
            ...grpcStatusHeaders(Code.ResourceExhausted, "too many failed logins for admin", [
              errorInfo("RATE_LIMITED"),
              retryInfo(41, 200_000_000),
            ]),
          },
        }),
    );
    const d = describeError(err);
    expect(d.retryAfterMs).toBe(41_200);
    expect(d.sentence).toBe("Too many failed logins for admin. Try again in 42 seconds.");
  });

  it("words known ErrorInfo reasons itself", async () => {
    const err = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: {
            ...GRPC_WEB,
            ...grpcStatusHeaders(Code.Unauthenticated, "invalid username or password", [
              errorInfo("INVALID_CREDENTIALS"),
            ]),
          },
        }),
    );
    expect(describeError(err).sentence).toBe("Wrong username or password.");
  });

  it("maps an Envoy 503 without any grpc-status to 'cannot be reached'", async () => {
    const err = await callAgainst(
      () =>
        new Response("no healthy upstream", {
          status: 503,
          headers: { "content-type": "text/plain" },
        }),
    );
    const d = describeError(err);
    expect(d.code).toBe(Code.Unavailable);
    expect(d.sentence).toBe(
      "The server cannot be reached right now. Check the connection; it will be retried.",
    );
  });

  it("maps a network failure to 'cannot be reached'", async () => {
    const err = await callAgainst(() => {
      throw new TypeError("Failed to fetch");
    });
    expect(describeError(err).code).toBe(Code.Unavailable);
  });

  it("recognises REVISION_COMPACTED and nothing else as compaction", async () => {
    const compacted = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: {
            ...GRPC_WEB,
            ...grpcStatusHeaders(Code.FailedPrecondition, "revision 3 was compacted", [
              errorInfo("REVISION_COMPACTED"),
            ]),
          },
        }),
    );
    const other = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: {
            ...GRPC_WEB,
            ...grpcStatusHeaders(Code.FailedPrecondition, "node is draining", [
              errorInfo("FAILED_PRECONDITION"),
            ]),
          },
        }),
    );
    expect(isRevisionCompacted(compacted)).toBe(true);
    expect(isRevisionCompacted(other)).toBe(false);
    expect(describeError(other).sentence).toBe("Node is draining.");
  });

  it("recognises an RPC the server does not have yet (an older control plane)", async () => {
    const missing = await callAgainst(
      () =>
        new Response(null, {
          status: 200,
          headers: { ...GRPC_WEB, ...grpcStatusHeaders(Code.Unimplemented, "") },
        }),
    );
    expect(isUnimplemented(missing)).toBe(true);
    expect(isUnimplemented(new Error("boom"))).toBe(false);
    expect(describeError(missing).sentence).toBe(
      "The server does not support this action (it may be older than this page).",
    );
  });

  it("describes plain exceptions too", () => {
    expect(describeError(new Error("boom")).sentence).toBe("Something went wrong on the server.");
  });
});
