// Words and numbers for the fleet's history: the range a page asks about (and the bucket that
// keeps its charts readable within the server's limits), percentages, durations, rates, the
// forecast's verdict, gap causes, and the chunks of an exported report joined into one file.
import {
  durationMs,
  timestampDate,
  timestampFromDate,
  type Duration,
} from "@bufbuild/protobuf/wkt";
import { GapCause } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import {
  ForecastVerdict,
  type GetStreamHealthResponse,
  type UptimeBucket,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { formatBytes } from "../format";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type RangePreset = "24h" | "7d" | "30d" | "custom";

export const RANGE_PRESETS: { value: RangePreset; label: string }[] = [
  { value: "24h", label: "Last 24 h" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "custom", label: "Custom" },
];

const PRESET_MS: Record<Exclude<RangePreset, "custom">, number> = {
  "24h": DAY,
  "7d": 7 * DAY,
  "30d": 30 * DAY,
};

/** The server's limits (analytics.proto): a range of at most 400 days. */
export const MAX_RANGE_MS = 400 * DAY;

export interface Range {
  start: Date;
  end: Date;
}

/** A range as the API's TimeRange. */
export function timeRange(r: Range) {
  return { startTime: timestampFromDate(r.start), endTime: timestampFromDate(r.end) };
}

/** The range a preset names, ending now (to the second: the API's figures are per second). */
export function presetRange(preset: Exclude<RangePreset, "custom">, now: number): Range {
  const end = Math.floor(now / 1000) * 1000;
  return { start: new Date(end - PRESET_MS[preset]), end: new Date(end) };
}

/** Why a custom range cannot be asked for, as a sentence; null when it can. */
export function customRangeProblem(start: Date | null, end: Date | null): string | null {
  if (!start || !end) return "Choose both a start and an end.";
  if (end.getTime() <= start.getTime()) return "The end must be after the start.";
  if (end.getTime() - start.getTime() > MAX_RANGE_MS) return "A range can cover at most 400 days.";
  return null;
}

// Bucket sizes a chart may use, smallest first.
const BUCKETS = [MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY, 7 * DAY];

/** The bucket for a range's charts: the smallest giving at most `maxPoints` points, and at least
 * an hour beyond 30 days (the server keeps 1-minute figures only that long). */
export function bucketFor(range: Range, maxPoints = 200): number {
  const span = range.end.getTime() - range.start.getTime();
  const floor = span > 30 * DAY ? HOUR : MINUTE;
  return BUCKETS.find((b) => b >= floor && span / b <= maxPoints) ?? BUCKETS[BUCKETS.length - 1];
}

/** 0.98765 → "98.77 %". */
export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(2)} %`;
}

/** A duration to the second, largest two units: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatDurationMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`;
  if (s < 3600) return two(Math.floor(s / 60), "min", s % 60, "s");
  if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min");
  return two(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

/** An optional Duration: "—" when unset (e.g. MTBF without an outage). */
export function formatDuration(d: Duration | undefined): string {
  return d ? formatDurationMs(durationMs(d)) : "—";
}

/** Bytes as the UI writes them elsewhere (1024-based), per hour: "1.5 GB/h". */
export function formatBytesPerHour(bytesPerHour: number): string {
  return `${formatBytes(Math.round(bytesPerHour))}/h`;
}

/** The unit a chart of byte counts reads best in: the largest whose value of `max` is ≥ 1. */
export function bytesUnit(max: number): { divisor: number; label: string } {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (i < units.length - 1 && max >= 1024 ** (i + 1)) i++;
  return { divisor: 1024 ** i, label: units[i] };
}

/** 12.34 → "12.3 days"; under a day in hours. */
export function formatDays(days: number): string {
  if (days < 1) return `${Math.max(0, Math.round(days * 24))} h`;
  return `${days.toFixed(1)} days`;
}

export function verdictLabel(v: ForecastVerdict): string {
  switch (v) {
    case ForecastVerdict.RETENTION_MET:
      return "Retention met";
    case ForecastVerdict.FILLS_UP:
      return "Fills up";
    default:
      return "Not enough history";
  }
}

export function verdictColor(v: ForecastVerdict): string {
  return v === ForecastVerdict.RETENTION_MET
    ? "teal"
    : v === ForecastVerdict.FILLS_UP
      ? "red"
      : "gray";
}

export function gapCauseLabel(c: GapCause): string {
  return (
    {
      [GapCause.NODE_LOST]: "Node lost",
      [GapCause.SOURCE_ERROR]: "Source error",
      [GapCause.RECORDER_CRASH]: "Recorder crash",
      [GapCause.DISK_FULL]: "Disk full",
      [GapCause.CAMERA_STOPPED]: "Camera stopped publishing",
    }[c as number] ?? "Unknown cause"
  );
}

/** A chart's time axis label for a bucket start: the time of day for short ranges, the date
 * (and hour) for longer ones. */
export function bucketLabel(at: Date, bucketMs: number): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  if (bucketMs >= DAY) return day;
  if (bucketMs >= HOUR) return `${day.slice(5)} ${time}`;
  return time;
}

/** Chart rows of the health points; buckets without reports carry no values. */
export function healthRows(health: GetStreamHealthResponse) {
  const bucketMs = health.bucket ? durationMs(health.bucket) : 60_000;
  return health.points.map((p) => {
    const at = p.startTime ? bucketLabel(timestampDate(p.startTime), bucketMs) : "";
    if (p.samples === 0) return { at };
    return {
      at,
      bitrate: Math.round(p.bitrateKbpsAvg),
      bitrateMin: Math.round(p.bitrateKbpsMin),
      fps: Math.round(p.fpsAvg * 10) / 10,
      fpsMin: Math.round(p.fpsMin * 10) / 10,
      viewers: p.viewersMax,
    };
  });
}

/** Chart rows of an uptime series in percent; a bucket in which nothing was known (no camera
 * yet, or none reporting) is a gap, not the API's 1. */
export function uptimeRows(buckets: UptimeBucket[], bucketMs: number) {
  return buckets.map((b) => {
    const at = b.startTime ? bucketLabel(timestampDate(b.startTime), bucketMs) : "";
    const known = (b.up ? durationMs(b.up) : 0) + (b.down ? durationMs(b.down) : 0);
    return known > 0 ? { at, uptime: Math.round(b.uptime * 10000) / 100 } : { at };
  });
}

/** One chunk of ExportReport, as the page receives it. */
export interface ReportChunk {
  filename: string;
  contentType: string;
  data: Uint8Array;
}

/** The chunks of a report joined into one file; the first chunk names it. */
export function assembleReport(chunks: ReportChunk[]): {
  filename: string;
  contentType: string;
  bytes: Uint8Array;
} {
  const size = chunks.reduce((n, c) => n + c.data.length, 0);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c.data, at);
    at += c.data.length;
  }
  const first = chunks.find((c) => c.filename) ?? chunks[0];
  return {
    filename: first?.filename || "report",
    contentType: first?.contentType || "application/octet-stream",
    bytes,
  };
}
