import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ForecastVerdict,
  GetStreamHealthResponseSchema,
  UptimeBucketSchema,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { GapCause } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import {
  assembleReport,
  bucketFor,
  bucketLabel,
  bytesUnit,
  customRangeProblem,
  formatBytesPerHour,
  formatDays,
  formatDuration,
  formatDurationMs,
  formatPercent,
  gapCauseLabel,
  healthRows,
  uptimeRows,
  presetRange,
  verdictLabel,
} from "./format";

const MIN = 60_000;
const H = 60 * MIN;
const D = 24 * H;
const span = (ms: number) => ({ start: new Date(0), end: new Date(ms) });

describe("ranges", () => {
  it("end a preset now, to the second", () => {
    const r = presetRange("7d", 1_800_000_000_123);
    expect(r.end.getTime()).toBe(1_800_000_000_000);
    expect(r.end.getTime() - r.start.getTime()).toBe(7 * D);
  });
  it("refuse a custom range in words", () => {
    expect(customRangeProblem(null, new Date())).toBe("Choose both a start and an end.");
    expect(customRangeProblem(new Date(5000), new Date(5000))).toBe(
      "The end must be after the start.",
    );
    expect(customRangeProblem(new Date(0), new Date(401 * D))).toBe(
      "A range can cover at most 400 days.",
    );
    expect(customRangeProblem(new Date(0), new Date(400 * D))).toBeNull();
  });
  it("choose buckets within the server's limits", () => {
    expect(bucketFor(span(H))).toBe(MIN);
    expect(bucketFor(span(D))).toBe(15 * MIN);
    expect(bucketFor(span(7 * D))).toBe(H);
    expect(bucketFor(span(30 * D))).toBe(6 * H);
    // Beyond 30 days, never under an hour, whatever the points allowed.
    expect(bucketFor(span(31 * D), 100_000)).toBe(H);
    expect(bucketFor(span(400 * D))).toBe(7 * D);
    expect(bucketFor(span(D), 24)).toBe(H);
  });
  it("label buckets by their size", () => {
    const at = new Date(2026, 2, 4, 7, 5);
    expect(bucketLabel(at, MIN)).toBe("07:05");
    expect(bucketLabel(at, H)).toBe("03-04 07:05");
    expect(bucketLabel(at, D)).toBe("2026-03-04");
  });
});

describe("figures", () => {
  it("percentages to two decimals", () => {
    expect(formatPercent(0.98765)).toBe("98.77 %");
    expect(formatPercent(1)).toBe("100.00 %");
    expect(formatPercent(0)).toBe("0.00 %");
  });
  it("durations in their two largest units", () => {
    expect(formatDurationMs(0)).toBe("0 s");
    expect(formatDurationMs(45_400)).toBe("45 s");
    expect(formatDurationMs(3 * MIN)).toBe("3 min");
    expect(formatDurationMs(3 * MIN + 20_000)).toBe("3 min 20 s");
    expect(formatDurationMs(2 * H + 5 * MIN + 59_000)).toBe("2 h 5 min");
    expect(formatDurationMs(3 * D + 4 * H + 30 * MIN)).toBe("3 d 4 h");
    expect(formatDurationMs(2 * D)).toBe("2 d");
    expect(formatDuration(undefined)).toBe("—");
    expect(formatDuration(durationFromMs(90_000))).toBe("1 min 30 s");
  });
  it("chart byte counts in a readable unit", () => {
    expect(bytesUnit(0)).toEqual({ divisor: 1, label: "B" });
    expect(bytesUnit(900_000)).toEqual({ divisor: 1024, label: "KB" });
    expect(bytesUnit(3 * 1024 ** 3)).toEqual({ divisor: 1024 ** 3, label: "GB" });
    expect(bytesUnit(1024 ** 6).label).toBe("TB");
  });
  it("rates and days", () => {
    expect(formatBytesPerHour(1.5 * 1024 ** 3)).toBe("1.5 GB/h");
    expect(formatDays(12.345)).toBe("12.3 days");
    expect(formatDays(0.5)).toBe("12 h");
  });
  it("verdicts and gap causes in words", () => {
    expect(verdictLabel(ForecastVerdict.RETENTION_MET)).toBe("Retention met");
    expect(verdictLabel(ForecastVerdict.FILLS_UP)).toBe("Fills up");
    expect(verdictLabel(ForecastVerdict.UNKNOWN)).toBe("Not enough history");
    expect(gapCauseLabel(GapCause.DISK_FULL)).toBe("Disk full");
    expect(gapCauseLabel(GapCause.UNSPECIFIED)).toBe("Unknown cause");
  });
});

describe("reports", () => {
  it("join the chunks in order under the first chunk's name", () => {
    const enc = new TextEncoder();
    const file = assembleReport([
      { filename: "perf.csv", contentType: "text/csv", data: enc.encode("a,b\n") },
      { filename: "", contentType: "", data: enc.encode("1,2\n") },
      { filename: "", contentType: "", data: new Uint8Array() },
      { filename: "", contentType: "", data: enc.encode("3,4\n") },
    ]);
    expect(file.filename).toBe("perf.csv");
    expect(file.contentType).toBe("text/csv");
    expect(new TextDecoder().decode(file.bytes)).toBe("a,b\n1,2\n3,4\n");
  });
  it("name a report the server left unnamed", () => {
    const file = assembleReport([]);
    expect(file.filename).toBe("report");
    expect(file.bytes.length).toBe(0);
  });
});

describe("stream health", () => {
  it("leaves buckets without reports empty, not zero", () => {
    const health = create(GetStreamHealthResponseSchema, {
      bucket: durationFromMs(MIN),
      points: [
        {
          startTime: timestampFromDate(new Date(2026, 0, 1, 10, 0)),
          bitrateKbpsAvg: 1999.6,
          bitrateKbpsMin: 1500.2,
          fpsAvg: 24.96,
          fpsMin: 20,
          viewersMax: 3,
          samples: 6,
        },
        { startTime: timestampFromDate(new Date(2026, 0, 1, 10, 1)), samples: 0 },
      ],
    });
    expect(healthRows(health)).toEqual([
      { at: "10:00", bitrate: 2000, bitrateMin: 1500, fps: 25, fpsMin: 20, viewers: 3 },
      { at: "10:01" },
    ]);
  });
});

describe("uptime trend", () => {
  it("leaves buckets where nothing was known empty, not 100 %", () => {
    const at = (m: number) => timestampFromDate(new Date(2026, 0, 1, 10, m));
    const rows = uptimeRows(
      [
        create(UptimeBucketSchema, { startTime: at(0), uptime: 1 }),
        create(UptimeBucketSchema, {
          startTime: at(1),
          uptime: 0.75,
          up: durationFromMs(45_000),
          down: durationFromMs(15_000),
        }),
      ],
      MIN,
    );
    expect(rows).toEqual([{ at: "10:00" }, { at: "10:01", uptime: 75 }]);
  });
});
