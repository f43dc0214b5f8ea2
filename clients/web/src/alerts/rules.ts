// The rule editor's form state ⇄ camfleet.v1.AlertRule. Every condition kind has its own
// thresholds (typed as text so durations read "5m"); draftToRule checks them against the proto's
// documented ranges and names what to fix, so the preview only asks for rules that can exist.
import { create } from "@bufbuild/protobuf";
import {
  AlertConditionSchema,
  AlertRuleSchema,
  AlertSeverity,
  FailedLoginsCondition_By,
  type AlertCondition,
  type AlertRule,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { labelsToText, parseLabels } from "../fleet/labels";
import { durationText, fromDuration, parseDuration, toDuration } from "./format";

export type ConditionKind = NonNullable<AlertCondition["kind"]["case"]>;

export const CONDITION_KINDS: { value: ConditionKind; label: string; about: string }[] = [
  {
    value: "cameraOffline",
    label: "Camera offline",
    about: "A camera OFFLINE for at least “for”.",
  },
  {
    value: "cameraError",
    label: "Camera in error",
    about: "A camera in ERROR (e.g. its source refused the login).",
  },
  {
    value: "recordingGap",
    label: "Recording gap",
    about: "A gap at least this long, or too little recorded over the window.",
  },
  {
    value: "recorderCrashLoop",
    label: "Recorder crash loop",
    about: "A camera's recorder restarting again and again.",
  },
  {
    value: "nodeLost",
    label: "Node lost",
    about: "A node that missed its heartbeats; inhibits its cameras' alerts.",
  },
  {
    value: "nodeDisk",
    label: "Node disk",
    about: "A node's recording disk nearly full, or filling up soon.",
  },
  {
    value: "streamQuality",
    label: "Stream quality",
    about: "A live stream's frame rate or bitrate under a threshold.",
  },
  {
    value: "failedLogins",
    label: "Failed logins",
    about: "Many failed logins for one user or from one address.",
  },
  {
    value: "tokenNewAddress",
    label: "API token from a new address",
    about: "An API token used from an address it never came from.",
  },
];

export function conditionLabel(kind: ConditionKind | undefined): string {
  return CONDITION_KINDS.find((k) => k.value === kind)?.label ?? "—";
}

/** What the editor holds: text as typed, numbers where the input is numeric. */
export interface RuleDraft {
  name: string;
  description: string;
  kind: ConditionKind;
  severity: AlertSeverity;
  enabled: boolean;
  labels: string;
  matchLabels: string;
  for: string;
  keepFiringFor: string;
  cooldown: string;
  // Thresholds (each kind reads its own).
  minGap: string;
  minRecordedPercent: number | string;
  gapWindow: string;
  restarts: number | string;
  crashWindow: string;
  minFreePercent: number | string;
  minDaysUntilFull: number | string;
  minFps: number | string;
  minBitrateKbps: number | string;
  loginCount: number | string;
  loginWindow: string;
  loginBy: "user" | "address";
}

export function newRuleDraft(): RuleDraft {
  return {
    name: "",
    description: "",
    kind: "cameraOffline",
    severity: AlertSeverity.WARNING,
    enabled: true,
    labels: "",
    matchLabels: "",
    for: "1m",
    keepFiringFor: "0s",
    cooldown: "0s",
    minGap: "1m",
    minRecordedPercent: 0,
    gapWindow: "1h",
    restarts: 3,
    crashWindow: "5m",
    minFreePercent: 10,
    minDaysUntilFull: 0,
    minFps: 5,
    minBitrateKbps: 0,
    loginCount: 5,
    loginWindow: "5m",
    loginBy: "user",
  };
}

export function ruleToDraft(rule: AlertRule): RuleDraft {
  const d: RuleDraft = {
    ...newRuleDraft(),
    name: rule.name,
    description: rule.description,
    kind: rule.condition?.kind.case ?? "cameraOffline",
    severity: rule.severity || AlertSeverity.WARNING,
    enabled: rule.enabled,
    labels: labelsToText(rule.labels),
    matchLabels: labelsToText(rule.matchLabels),
    for: durationText(rule.for) || "0s",
    keepFiringFor: durationText(rule.keepFiringFor) || "0s",
    cooldown: durationText(rule.cooldown) || "0s",
  };
  const k = rule.condition?.kind;
  switch (k?.case) {
    case "recordingGap":
      d.minGap = durationText(k.value.minGap);
      d.minRecordedPercent = k.value.minRecordedPercent;
      d.gapWindow = durationText(k.value.window) || "1h";
      break;
    case "recorderCrashLoop":
      d.restarts = k.value.restarts || 3;
      d.crashWindow = durationText(k.value.window) || "5m";
      break;
    case "nodeDisk":
      d.minFreePercent = k.value.minFreePercent;
      d.minDaysUntilFull = k.value.minDaysUntilFull;
      break;
    case "streamQuality":
      d.minFps = k.value.minFps;
      d.minBitrateKbps = Number(k.value.minBitrateKbps);
      break;
    case "failedLogins":
      d.loginCount = k.value.count || 5;
      d.loginWindow = durationText(k.value.window) || "5m";
      d.loginBy = k.value.by === FailedLoginsCondition_By.ADDRESS ? "address" : "user";
      break;
  }
  return d;
}

const DAY = 86400;

class Checker {
  errors: string[] = [];

  duration(label: string, text: string, min: number, max: number, optional = false): number {
    if (optional && !text.trim()) return 0;
    const s = parseDuration(text);
    if (s === null) this.errors.push(`${label}: “${text}” is not a duration (e.g. 30s, 5m, 1h).`);
    else if (s < min || s > max)
      this.errors.push(`${label}: must be between ${span(min)} and ${span(max)}.`);
    return s ?? 0;
  }

  number(label: string, value: number | string, min: number, max: number, off = false): number {
    const n = typeof value === "number" ? value : Number(String(value).trim() || "NaN");
    if (Number.isNaN(n)) this.errors.push(`${label}: a number is needed.`);
    else if (off && n === 0) return 0;
    else if (n < min || n > max)
      this.errors.push(`${label}: must be between ${min} and ${max}${off ? " (0: off)" : ""}.`);
    return Number.isNaN(n) ? 0 : n;
  }
}

function span(s: number): string {
  if (s === 0) return "0";
  if (s % DAY === 0) return s === DAY ? "1 day" : `${s / DAY} days`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

function condition(d: RuleDraft, c: Checker): AlertCondition {
  switch (d.kind) {
    case "recordingGap": {
      const gap = c.duration("Minimum gap", d.minGap, 1, DAY, true);
      const pct = c.number("Minimum recorded %", d.minRecordedPercent, 1, 100, true);
      const window = c.duration("Window", d.gapWindow, 60, 7 * DAY);
      if (gap === 0 && pct === 0)
        c.errors.push("Recording gap: set a minimum gap, a minimum recorded %, or both.");
      return create(AlertConditionSchema, {
        kind: {
          case: "recordingGap",
          value: {
            minGap: gap ? toDuration(gap) : undefined,
            minRecordedPercent: pct,
            window: toDuration(window),
          },
        },
      });
    }
    case "recorderCrashLoop":
      return create(AlertConditionSchema, {
        kind: {
          case: "recorderCrashLoop",
          value: {
            restarts: Math.round(c.number("Restarts", d.restarts, 2, 1000)),
            window: toDuration(c.duration("Window", d.crashWindow, 10, DAY)),
          },
        },
      });
    case "nodeDisk": {
      const free = c.number("Minimum free %", d.minFreePercent, 0.1, 99, true);
      const days = c.number("Days until full", d.minDaysUntilFull, 0.1, 3650, true);
      if (free === 0 && days === 0)
        c.errors.push("Node disk: set a minimum free %, a days-until-full limit, or both.");
      return create(AlertConditionSchema, {
        kind: {
          case: "nodeDisk",
          value: { minFreePercent: free, minDaysUntilFull: days },
        },
      });
    }
    case "streamQuality": {
      const fps = c.number("Minimum frame rate", d.minFps, 0.1, 240, true);
      const kbps = c.number("Minimum bitrate", d.minBitrateKbps, 1, 1_000_000, true);
      if (fps === 0 && kbps === 0)
        c.errors.push("Stream quality: set a minimum frame rate, a minimum bitrate, or both.");
      return create(AlertConditionSchema, {
        kind: {
          case: "streamQuality",
          value: { minFps: fps, minBitrateKbps: BigInt(Math.round(kbps)) },
        },
      });
    }
    case "failedLogins":
      return create(AlertConditionSchema, {
        kind: {
          case: "failedLogins",
          value: {
            count: Math.round(c.number("Failed logins", d.loginCount, 1, 100_000)),
            window: toDuration(c.duration("Window", d.loginWindow, 10, DAY)),
            by:
              d.loginBy === "address"
                ? FailedLoginsCondition_By.ADDRESS
                : FailedLoginsCondition_By.USER,
          },
        },
      });
    case "cameraOffline":
      return create(AlertConditionSchema, { kind: { case: "cameraOffline", value: {} } });
    case "cameraError":
      return create(AlertConditionSchema, { kind: { case: "cameraError", value: {} } });
    case "nodeLost":
      return create(AlertConditionSchema, { kind: { case: "nodeLost", value: {} } });
    case "tokenNewAddress":
      return create(AlertConditionSchema, { kind: { case: "tokenNewAddress", value: {} } });
  }
}

/** The rule the form describes (id kept for updates), and what to fix before it can be sent. */
export function draftToRule(d: RuleDraft, id = ""): { rule: AlertRule; errors: string[] } {
  const c = new Checker();
  const name = d.name.trim();
  if (!name) c.errors.push("Name: a rule needs a name.");
  else if (name.length > 100) c.errors.push("Name: at most 100 characters.");
  const cond = condition(d, c);
  const labels = parseLabels(d.labels, 16);
  const matchLabels = parseLabels(d.matchLabels, 16);
  c.errors.push(...labels.errors.map((e) => `Labels: ${e}`));
  c.errors.push(...matchLabels.errors.map((e) => `Only for: ${e}`));
  const rule = create(AlertRuleSchema, {
    id,
    name,
    description: d.description.trim(),
    condition: cond,
    severity: d.severity,
    labels: labels.labels,
    matchLabels: matchLabels.labels,
    for: toDuration(c.duration("For", d.for || "0s", 0, DAY)),
    keepFiringFor: toDuration(c.duration("Keep firing for", d.keepFiringFor || "0s", 0, DAY)),
    cooldown: toDuration(c.duration("Cooldown", d.cooldown || "0s", 0, DAY)),
    enabled: d.enabled,
  });
  return { rule, errors: c.errors };
}

/** Every field UpdateAlertRule may change (the editor sends them all). */
export const RULE_UPDATE_PATHS = [
  "name",
  "description",
  "condition",
  "severity",
  "labels",
  "match_labels",
  "for",
  "keep_firing_for",
  "cooldown",
  "enabled",
];

/** One line on a rule's thresholds, for the rules list ("for 1m · gap ≥ 30s"). */
export function describeRule(rule: AlertRule): string {
  const parts: string[] = [];
  const k = rule.condition?.kind;
  switch (k?.case) {
    case "recordingGap":
      if (k.value.minGap) parts.push(`gap ≥ ${durationText(k.value.minGap)}`);
      if (k.value.minRecordedPercent)
        parts.push(
          `recorded < ${k.value.minRecordedPercent} % over ${durationText(k.value.window)}`,
        );
      break;
    case "recorderCrashLoop":
      parts.push(`${k.value.restarts} restarts in ${durationText(k.value.window)}`);
      break;
    case "nodeDisk":
      if (k.value.minFreePercent) parts.push(`free < ${k.value.minFreePercent} %`);
      if (k.value.minDaysUntilFull) parts.push(`full within ${k.value.minDaysUntilFull} days`);
      break;
    case "streamQuality":
      if (k.value.minFps) parts.push(`fps < ${k.value.minFps}`);
      if (k.value.minBitrateKbps) parts.push(`bitrate < ${k.value.minBitrateKbps} kbit/s`);
      break;
    case "failedLogins":
      parts.push(
        `${k.value.count} failures per ${k.value.by === FailedLoginsCondition_By.ADDRESS ? "address" : "user"} in ${durationText(k.value.window)}`,
      );
      break;
  }
  parts.push(`for ${durationText(rule.for) || "0s"}`);
  if (fromDuration(rule.keepFiringFor) > 0)
    parts.push(`keep firing ${durationText(rule.keepFiringFor)}`);
  if (fromDuration(rule.cooldown) > 0) parts.push(`cooldown ${durationText(rule.cooldown)}`);
  return parts.join(" · ");
}
