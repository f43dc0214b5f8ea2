// Timestamp and Duration helpers for the recordings page.
import { timestampDate, timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";

export { timestampDate, timestampFromMs };

export function durationMs(d: Duration): number {
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}
