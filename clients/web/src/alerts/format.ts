// Alerting's words and numbers as people read and type them: severities and states, durations
// ("30s", "5m", "1h30m" ⇄ seconds ⇄ google.protobuf.Duration), list filters, and the labels that
// identify an alert (what a silence made from it matches).
import { create } from "@bufbuild/protobuf";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";
import {
  AlertSeverity,
  AlertState,
  Matcher_Operator,
  SilenceState,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";

export function severityLabel(s: AlertSeverity): string {
  return (
    {
      [AlertSeverity.INFO]: "info",
      [AlertSeverity.WARNING]: "warning",
      [AlertSeverity.CRITICAL]: "critical",
    }[s as number] ?? "unspecified"
  );
}

export function severityColor(s: AlertSeverity): string {
  return (
    {
      [AlertSeverity.INFO]: "blue",
      [AlertSeverity.WARNING]: "orange",
      [AlertSeverity.CRITICAL]: "red",
    }[s as number] ?? "gray"
  );
}

export const SEVERITIES = [AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO];

/** Select options for a severity ({ value: "3", label: "critical" }). */
export const SEVERITY_OPTIONS = SEVERITIES.map((s) => ({
  value: String(s),
  label: severityLabel(s),
}));

export function alertStateLabel(s: AlertState): string {
  return (
    {
      [AlertState.PENDING]: "pending",
      [AlertState.FIRING]: "firing",
      [AlertState.RESOLVED]: "resolved",
    }[s as number] ?? "unknown"
  );
}

export function silenceStateLabel(s: SilenceState): string {
  return (
    {
      [SilenceState.PENDING]: "pending",
      [SilenceState.ACTIVE]: "active",
      [SilenceState.EXPIRED]: "expired",
    }[s as number] ?? "unknown"
  );
}

export function silenceStateColor(s: SilenceState): string {
  return { [SilenceState.PENDING]: "yellow", [SilenceState.ACTIVE]: "teal" }[s as number] ?? "gray";
}

/** The alert list tabs and the ListAlerts filter of each. */
export type AlertTab = "firing" | "pending" | "resolved";

export function alertTabFilter(tab: AlertTab): string {
  return `state = ${tab.toUpperCase()}`;
}

/** The filter for the navigation's count of firing alerts. */
export const FIRING_FILTER = alertTabFilter("firing");

export const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** `field = "value"`, for the delivery log's per-channel filters. */
export function equals(field: string, value: string): string {
  return `${field} = ${quote(value)}`;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds from "90", "90s", "5m", "1h30m", "2d" (spaces allowed); null when not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase().replace(/\s+/g, "");
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return null;
  let total = 0;
  for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g))
    total += Number(n) * UNITS[unit];
  return total;
}

/** "0s", "45s", "5m", "1h30m", "1d" — the shortest exact spelling, as parseDuration reads it. */
export function formatDuration(seconds: number): string {
  let s = Math.round(seconds);
  if (s <= 0) return "0s";
  let out = "";
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      out += `${Math.floor(s / size)}${unit}`;
      s %= size;
    }
  }
  return out;
}

export function toDuration(seconds: number): Duration {
  const whole = Math.floor(seconds);
  return create(DurationSchema, {
    seconds: BigInt(whole),
    nanos: Math.round((seconds - whole) * 1e9),
  });
}

export function fromDuration(d: Duration | undefined): number {
  return d ? Number(d.seconds) + d.nanos / 1e9 : 0;
}

/** A Duration as text ("" when unset). */
export function durationText(d: Duration | undefined): string {
  return d ? formatDuration(fromDuration(d)) : "";
}

/** A matcher as the list shows it: `camera="cam_1"`, `severity!="info"`. */
export function matcherText(m: {
  name: string;
  value: string;
  operator: Matcher_Operator;
}): string {
  return `${m.name}${m.operator === Matcher_Operator.NOT_EQUAL ? "!=" : "="}${quote(m.value)}`;
}

// What an alert is about, most specific first: a silence made from an alert matches its rule and
// the thing it concerns (a camera alert's `node` label is left out: the camera may move).
const SUBJECT_KEYS = ["camera", "node", "user", "address"] as const;

/** The label pairs that identify an alert for a silence: its rule and what it is about. */
export function identifyingLabels(labels: Record<string, string>): [string, string][] {
  const out: [string, string][] = [];
  if (labels.rule) out.push(["rule", labels.rule]);
  const subject = SUBJECT_KEYS.filter((k) => labels[k]);
  const keep = subject.includes("camera") ? subject.filter((k) => k !== "node") : subject;
  for (const k of keep) out.push([k, labels[k]]);
  // An alert about nothing in particular: every one of its labels, so the silence mutes only it.
  if (out.length === 0) for (const k of Object.keys(labels).sort()) out.push([k, labels[k]]);
  return out;
}

/** Labels people read first in an alert's row (the rest follow, sorted). */
const LEADING = ["camera_name", "node_name", "site", "user", "address"];
const HIDDEN = new Set(["rule", "severity"]);

/** An alert's labels in reading order, without those its row already shows (rule, severity). */
export function labelsForDisplay(labels: Record<string, string>): [string, string][] {
  const keys = Object.keys(labels).filter((k) => !HIDDEN.has(k));
  const lead = LEADING.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !LEADING.includes(k)).sort();
  return [...lead, ...rest].map((k) => [k, labels[k]]);
}

/** A `datetime-local` input's value for a moment (local time, minutes). */
export function localInputValue(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Milliseconds from a `datetime-local` value; null when empty or invalid. */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

const YEAR_MS = 365 * 86400_000;

/** A silence's window from the form's datetime-local values (start empty: now, left unset so the
 * server takes its own now), with what is wrong with it. */
export function silenceWindow(
  start: string,
  end: string,
  nowMs: number,
): { startMs: number | null; endMs: number | null; problems: string[] } {
  const problems: string[] = [];
  const startMs = start ? fromLocalInput(start) : null;
  const endMs = fromLocalInput(end);
  if (start && startMs === null) problems.push("Starts: not a date and time.");
  if (endMs === null) problems.push("Until: pick a date and time.");
  else if (endMs <= Math.max(startMs ?? nowMs, nowMs))
    problems.push("Until: must be later than the start and than now.");
  else if (endMs - (startMs ?? nowMs) > YEAR_MS)
    problems.push("Until: a silence lasts at most a year.");
  return { startMs, endMs, problems };
}
