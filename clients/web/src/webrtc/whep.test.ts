import { describe, expect, it } from "vitest";
import { preferH264, refusalReason, sessionUrl, WhepError } from "./whep";

describe("preferH264", () => {
  it("keeps only H.264, packetization-mode 1 first, whatever order the browser lists", () => {
    const codecs = [
      { mimeType: "video/VP8" },
      { mimeType: "video/H264", sdpFmtpLine: "packetization-mode=0;profile-level-id=42e01f" },
      { mimeType: "video/rtx" },
      { mimeType: "video/H264", sdpFmtpLine: "packetization-mode=1;profile-level-id=42e01f" },
      { mimeType: "video/AV1" },
    ];
    expect(preferH264(codecs).map((c) => c.sdpFmtpLine)).toEqual([
      "packetization-mode=1;profile-level-id=42e01f",
      "packetization-mode=0;profile-level-id=42e01f",
    ]);
  });

  it("is empty for a browser without H.264", () => {
    expect(preferH264([{ mimeType: "video/VP8" }, { mimeType: "video/VP9" }])).toEqual([]);
  });
});

describe("sessionUrl", () => {
  it("resolves a relative Location against the endpoint", () => {
    expect(sessionUrl("http://node:8088/whep/cam/1.u/99/sig", "/whep/sessions/abc")).toBe(
      "http://node:8088/whep/sessions/abc",
    );
  });

  it("refuses a 201 without a Location", () => {
    expect(() => sessionUrl("http://node/whep/x", null)).toThrow(WhepError);
  });
});

describe("refusalReason", () => {
  it("takes the node's sentence, or says what status came back", () => {
    expect(refusalReason(503, "This node already serves 50 WebRTC viewers.\n")).toBe(
      "This node already serves 50 WebRTC viewers.",
    );
    expect(refusalReason(502, "")).toBe("The node refused WebRTC (HTTP 502).");
  });
});
