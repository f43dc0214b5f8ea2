import { describe, expect, it } from "vitest";
import Hls from "hls.js";
import { playbackError } from "./RecordingPlayer";

describe("playbackError", () => {
  it("names CORS when a segment fetch gets no answer the browser may read", () => {
    const text = playbackError({
      type: Hls.ErrorTypes.NETWORK_ERROR,
      details: Hls.ErrorDetails.FRAG_LOAD_ERROR,
      response: { url: "http://store/seg.ts", code: 0, text: "" },
    });
    expect(text).toContain("could not fetch its video segments");
    expect(text).toContain("CORS");
  });

  it("gives the HTTP status of a refused playlist", () => {
    const text = playbackError({
      type: Hls.ErrorTypes.NETWORK_ERROR,
      details: Hls.ErrorDetails.MANIFEST_LOAD_ERROR,
      response: { url: "https://node/index.m3u8", code: 403, text: "Forbidden" },
    });
    expect(text).toBe(
      "This recording cannot be played: fetching its playlist failed with HTTP 403 (manifestLoadError).",
    );
  });

  it("says when the video cannot be decoded", () => {
    const text = playbackError({
      type: Hls.ErrorTypes.MEDIA_ERROR,
      details: Hls.ErrorDetails.BUFFER_APPEND_ERROR,
    });
    expect(text).toContain("could not decode it");
  });
});
