import { describe, expect, it } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { formatAgo, formatBitrate, formatBytes } from "./format";

describe("format", () => {
  it("says how long ago", () => {
    const now = 1_800_000_000_000;
    expect(formatAgo(undefined, now)).toBe("never");
    expect(formatAgo(timestampFromMs(now - 4_000), now)).toBe("4 s ago");
    expect(formatAgo(timestampFromMs(now - 125_000), now)).toBe("2 min ago");
    expect(formatAgo(timestampFromMs(now - 7_300_000), now)).toBe("2 h ago");
  });
  it("sizes and bitrates", () => {
    expect(formatBytes(2_500_000n)).toBe("2.4 MB");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBitrate(1_900_000n)).toBe("1.9 Mbit/s");
    expect(formatBitrate(800_000)).toBe("800 kbit/s");
  });
});
