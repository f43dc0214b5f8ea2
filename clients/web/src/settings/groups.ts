// The settings groups as forms: each field's label, unit and kind, its value as the text a
// person edits, and the way back — only the fields that changed, with their update_mask paths.
// Ranges are the server's to judge (its field violations are shown at the field); here only
// what cannot be sent at all (not a number) is refused.
import { durationFromMs, durationMs, type Duration } from "@bufbuild/protobuf/wkt";
import { RecordingProfile } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import {
  NotificationSettings_SmsProvider as SmsProvider,
  NotificationSettings_SmtpSecurity as SmtpSecurity,
  SettingsGroup,
} from "@camfleet/client/gen/camfleet/v1/settings_pb.js";

export type GroupName = "streaming" | "recording" | "storage" | "security" | "notifications";

export type FieldSpec =
  | { kind: "duration"; unit: Unit }
  | { kind: "int" }
  | { kind: "mib" }
  | { kind: "text" }
  | { kind: "enum"; options: { value: number; label: string }[] }
  | { kind: "list" }
  | { kind: "secret"; setKey: string; clearPath: string };

export type Field = FieldSpec & {
  /** The update_mask path (the proto field name). */
  path: string;
  /** The generated message's property. */
  key: string;
  label: string;
  help?: string;
};

export type Unit = "s" | "min" | "h" | "d";
const UNIT_MS: Record<Unit, number> = { s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
export const UNIT_LABEL: Record<Unit, string> = {
  s: "seconds",
  min: "minutes",
  h: "hours",
  d: "days",
};
const MIB = 1024 * 1024;

const camel = (path: string) => path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const duration = (path: string, label: string, unit: Unit, help?: string): Field => ({
  kind: "duration",
  unit,
  path,
  key: camel(path),
  label,
  help,
});
const int = (path: string, label: string, help?: string): Field => ({
  kind: "int",
  path,
  key: camel(path),
  label,
  help,
});
const text = (path: string, label: string, help?: string): Field => ({
  kind: "text",
  path,
  key: camel(path),
  label,
  help,
});
const secret = (path: string, label: string): Field => ({
  kind: "secret",
  path,
  key: camel(path),
  label,
  setKey: camel(`${path}_set`),
  clearPath: `clear_${path}`,
});

export interface GroupSpec {
  name: GroupName;
  group: SettingsGroup;
  title: string;
  about: string;
  fields: Field[];
}

export const GROUPS: GroupSpec[] = [
  {
    name: "streaming",
    group: SettingsGroup.STREAMING,
    title: "Streaming",
    about: "Live HLS on every node. A change reloads each node's nginx; streams keep running.",
    fields: [
      duration(
        "hls_fragment",
        "HLS fragment length",
        "s",
        "0.5 s to 10 s, at most the segment length.",
      ),
      duration(
        "hls_playlist_length",
        "Playlist length",
        "s",
        "At least one fragment, at most 10 min.",
      ),
      {
        kind: "list",
        path: "default_ladder",
        key: "defaultLadder",
        label: "Live ladder of cameras without their own",
        help: 'One rung per line: "source" (copied) or a height such as "360p" (encoded); grid tiles play the lowest.',
      },
    ],
  },
  {
    name: "recording",
    group: SettingsGroup.RECORDING,
    title: "Recording",
    about: "Recording on every node (applied to the next segments), and what a new camera gets.",
    fields: [
      duration("segment_length", "Segment length", "s", "1 s to 1 h; cut at the next keyframe."),
      {
        kind: "enum",
        path: "default_profile",
        key: "defaultProfile",
        label: "Default recording profile",
        help: "For a camera created without one.",
        options: [
          { value: RecordingProfile.ORIGINAL, label: "Original (copied, no re-encoding)" },
          { value: RecordingProfile.LOW, label: "Low (640x360)" },
          { value: RecordingProfile.MEDIUM, label: "Medium (1280x720)" },
          { value: RecordingProfile.HIGH, label: "High (1920x1080)" },
          { value: RecordingProfile.ULTRA, label: "Ultra (3840x2160)" },
        ],
      },
      int(
        "default_retention_days",
        "Default retention (days)",
        "0: none, kept until the disk's floor.",
      ),
    ],
  },
  {
    name: "storage",
    group: SettingsGroup.STORAGE,
    title: "Storage",
    about: "Recordings disks on every node, and the cold tier in object storage.",
    fields: [
      duration("warm_after", "Move to the warm tier after", "h", "On nodes with a warm directory."),
      {
        kind: "mib",
        path: "free_space_floor_bytes",
        key: "freeSpaceFloorBytes",
        label: "Free space kept (MiB)",
        help: "Below it the oldest segments are deleted. At least 1 MiB.",
      },
      text(
        "cold_endpoint",
        "Cold tier: object store URL",
        "S3-compatible, http(s)://host[:port]. The cold tier is off while the bucket is empty.",
      ),
      text("cold_bucket", "Cold tier: bucket", "Empty: no cold tier."),
      text("cold_prefix", "Cold tier: key prefix", 'e.g. "camfleet/"; empty: the bucket\'s root.'),
      text("cold_access_key", "Cold tier: access key"),
      secret("cold_secret_key", "Cold tier: secret key"),
      text("cold_region", "Cold tier: region", "us-east-1 when the store has no regions."),
      duration("cold_after", "Move to the cold tier after", "d", "From the warm tier, or hot."),
    ],
  },
  {
    name: "security",
    group: SettingsGroup.SECURITY,
    title: "Security",
    about: "People's logins: applied to the next login, token or password change.",
    fields: [
      int("password_min_length", "Shortest password", "8 to 128 characters."),
      int("password_min_score", "Lowest password strength", "0 (any) to 4 (strongest)."),
      duration("access_token_ttl", "Access token life", "min", "1 min to 24 h."),
      duration(
        "refresh_token_ttl",
        "Session life",
        "d",
        "At least the access token's, at most 365 days.",
      ),
      int(
        "login_limit_per_account_address",
        "Failed logins per user and address",
        "Per window, 1–1000.",
      ),
      int("login_limit_per_address", "Failed logins per address", "Per window, 1–10000."),
      duration("login_limit_window", "Login limits' window", "min", "1 s to 24 h."),
      int(
        "login_account_backoff_after",
        "Slow down a user's logins after",
        "Failed logins in an hour.",
      ),
      duration("login_account_backoff_max", "Longest slow-down", "s", "1 s to 1 h."),
      {
        kind: "list",
        path: "login_allowlist",
        key: "loginAllowlist",
        label: "Networks people may log in from",
        help: 'One CIDR per line (e.g. "10.0.0.0/8"); empty: anywhere. API tokens and nodes are not affected.',
      },
    ],
  },
  {
    name: "notifications",
    group: SettingsGroup.NOTIFICATIONS,
    title: "Notifications",
    about: "The platform's own SMTP server and SMS provider (scheduled reports).",
    fields: [
      text("smtp_host", "SMTP server", "Empty: no SMTP server."),
      int("smtp_port", "SMTP port"),
      {
        kind: "enum",
        path: "smtp_security",
        key: "smtpSecurity",
        label: "SMTP security",
        options: [
          { value: SmtpSecurity.STARTTLS, label: "STARTTLS" },
          { value: SmtpSecurity.TLS, label: "TLS (port 465)" },
          { value: SmtpSecurity.NONE, label: "None (a local relay)" },
        ],
      },
      text("smtp_username", "SMTP user name"),
      secret("smtp_password", "SMTP password"),
      text("smtp_from", "Sender address"),
      {
        kind: "enum",
        path: "sms_provider",
        key: "smsProvider",
        label: "SMS provider",
        options: [
          { value: SmsProvider.UNSPECIFIED, label: "None" },
          { value: SmsProvider.TWILIO, label: "Twilio-compatible" },
          { value: SmsProvider.KANNEL, label: "Kannel" },
        ],
      },
      text("sms_url", "SMS provider URL"),
      text("sms_account", "SMS account", "Twilio: the account SID; Kannel: the sendsms user."),
      text("sms_from", "SMS sender"),
      secret("sms_token", "SMS token"),
    ],
  },
];

export function groupSpec(name: string | undefined): GroupSpec | undefined {
  return GROUPS.find((g) => g.name === name);
}

/** What the form holds: each field as text; a secret's replacement and whether to remove it. */
export type Draft = Record<string, string>;

function trimNumber(n: number): string {
  // At most three decimals, no trailing zeros: 0.5, 10, 1.25.
  return String(Math.round(n * 1000) / 1000);
}

/** A group's stored values as the form's text. */
export function toDraft(spec: GroupSpec, values: Record<string, unknown>): Draft {
  const draft: Draft = {};
  for (const f of spec.fields) {
    const v = values[f.key];
    switch (f.kind) {
      case "duration":
        draft[f.path] = v ? trimNumber(durationMs(v as Duration) / UNIT_MS[f.unit]) : "0";
        break;
      case "mib":
        draft[f.path] = trimNumber(Number(v ?? 0) / MIB);
        break;
      case "int":
      case "enum":
        draft[f.path] = String(v ?? 0);
        break;
      case "list":
        draft[f.path] = ((v as string[] | undefined) ?? []).join("\n");
        break;
      case "secret":
        draft[f.path] = "";
        draft[f.clearPath] = "";
        break;
      default:
        draft[f.path] = String(v ?? "");
    }
  }
  return draft;
}

const NUMBER = /^-?\d+(\.\d+)?$/;
const INTEGER = /^-?\d+$/;

/** The changed fields as a partial group message, their mask paths, and the form's own
 * problems by path ("Enter a number."). */
export function toUpdate(
  spec: GroupSpec,
  before: Draft,
  draft: Draft,
): { values: Record<string, unknown>; paths: string[]; problems: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const paths: string[] = [];
  const problems: Record<string, string> = {};
  for (const f of spec.fields) {
    const raw = (draft[f.path] ?? "").trim();
    if (f.kind === "secret") {
      if (draft[f.clearPath] === "true") {
        values[camel(f.clearPath)] = true;
        paths.push(f.clearPath);
      } else if (raw) {
        values[f.key] = raw;
        paths.push(f.path);
      }
      continue;
    }
    if (raw === (before[f.path] ?? "").trim()) continue;
    switch (f.kind) {
      case "duration":
      case "mib":
        if (!NUMBER.test(raw)) {
          problems[f.path] = "Enter a number.";
          continue;
        }
        values[f.key] =
          f.kind === "duration"
            ? durationFromMs(Math.round(Number(raw) * UNIT_MS[f.unit]))
            : BigInt(Math.round(Number(raw) * MIB));
        break;
      case "int":
        if (!INTEGER.test(raw)) {
          problems[f.path] = "Enter a whole number.";
          continue;
        }
        values[f.key] = Number(raw);
        break;
      case "enum":
        values[f.key] = Number(raw);
        break;
      case "list":
        values[f.key] = raw
          .split(/[\n,]/)
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      default:
        values[f.key] = raw;
    }
    paths.push(f.path);
  }
  return { values, paths, problems };
}

/** The form field a server's field violation names: "streaming.hls_fragment",
 * "settings.streaming.hls_fragment" or "hls_fragment" all name hls_fragment; a list entry
 * ("login_allowlist[2]") names the list. Undefined when it names none of the group's fields. */
export function violationPath(spec: GroupSpec, field: string): string | undefined {
  const last =
    field
      .split(".")
      .pop()
      ?.replace(/\[\d+\]$/, "") ?? "";
  for (const f of spec.fields)
    if (last === f.path || (f.kind === "secret" && last === f.clearPath)) return f.path;
  return undefined;
}

export function groupName(group: SettingsGroup): string {
  return GROUPS.find((g) => g.group === group)?.title ?? "Settings";
}
