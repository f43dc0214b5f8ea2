import { describe, expect, it } from "vitest";
import { redactSourceUrl, sourceUrlProblem } from "./sourceUrl";

describe("pull source URL", () => {
  it("accepts what a node can pull", () => {
    for (const url of [
      "rtsp://127.0.0.1:8554/cam",
      "rtsp://user:p%40ss@camera.local/stream",
      "RTSPS://camera.local:322/x",
      "rtmp://edge/live/key",
      "https://cdn.example/live.m3u8",
      "http://[::1]:8080/ts",
    ])
      expect(sourceUrlProblem(url), url).toBeNull();
  });

  it("says what is wrong with anything else", () => {
    expect(sourceUrlProblem("  ")).toMatch(/^Enter the URL/);
    expect(sourceUrlProblem("file:///etc/passwd")).toBe(
      "A node cannot pull “file:” URLs; use rtsp, rtsps, rtmp, rtmps, http or https.",
    );
    expect(sourceUrlProblem("concat:a|b")).toMatch(/^Start the URL with rtsp:\/\//);
    expect(sourceUrlProblem("pipe:0")).toMatch(/^Start the URL/);
    expect(sourceUrlProblem("camera.local/stream")).toMatch(/^Start the URL/);
    expect(sourceUrlProblem("rtsp://cam era/x")).toBe(
      "The URL contains a space; percent-encode it as %20.",
    );
    expect(sourceUrlProblem("rtsp://cam\u0001era/x")).toMatch(/control characters/);
    expect(sourceUrlProblem(`rtsp://h/${"a".repeat(10_000)}`)).toBe(
      "The URL is 10009 characters long; at most 2000 are allowed.",
    );
    expect(sourceUrlProblem("rtsp:///path")).toBe("The URL has no host: rtsp://HOST[:PORT]/path.");
    expect(sourceUrlProblem("rtsp://cam:abc/x")).toBe("The port in “cam:abc” is not a number.");
  });

  it("hides a password when showing the URL", () => {
    expect(redactSourceUrl("rtsp://admin:s3cret@cam/x")).toBe("rtsp://admin:***@cam/x");
    expect(redactSourceUrl("rtsp://cam/x")).toBe("rtsp://cam/x");
  });
});
