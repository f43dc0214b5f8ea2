// The channel form's state ⇄ camfleet.v1.Channel. Secrets are write-only: the form starts them
// empty, and an empty secret on update keeps the stored one (the server's rule), so the form
// never has to know it.
import { create } from "@bufbuild/protobuf";
import {
  ChannelSchema,
  EmailConfig_Security,
  NotificationKind,
  NotificationStatus,
  SmsConfig_Provider,
  type Channel,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { durationText, parseDuration, toDuration } from "./format";

export type ChannelKind = "webhook" | "email" | "sms";

export interface ChannelDraft {
  name: string;
  kind: ChannelKind;
  // webhook
  url: string;
  secret: string;
  timeout: string;
  // email
  smtpHost: string;
  smtpPort: number | string;
  security: EmailConfig_Security;
  username: string;
  password: string;
  from: string;
  to: string;
  attachSnapshot: boolean;
  // sms
  provider: SmsConfig_Provider;
  smsUrl: string;
  account: string;
  token: string;
  smsFrom: string;
  smsTo: string;
}

export function newChannelDraft(kind: ChannelKind = "webhook"): ChannelDraft {
  return {
    name: "",
    kind,
    url: "",
    secret: "",
    timeout: "10s",
    smtpHost: "",
    smtpPort: "",
    security: EmailConfig_Security.STARTTLS,
    username: "",
    password: "",
    from: "",
    to: "",
    attachSnapshot: true,
    provider: SmsConfig_Provider.TWILIO,
    smsUrl: "",
    account: "",
    token: "",
    smsFrom: "",
    smsTo: "",
  };
}

/** Addresses or numbers typed one a line, or separated by commas or spaces. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function channelKind(c: Channel): ChannelKind | undefined {
  return c.config.case;
}

export function channelToDraft(c: Channel): ChannelDraft {
  const d = { ...newChannelDraft(c.config.case ?? "webhook"), name: c.name };
  switch (c.config.case) {
    case "webhook":
      d.url = c.config.value.url;
      d.timeout = durationText(c.config.value.timeout) || "10s";
      break;
    case "email": {
      const e = c.config.value;
      Object.assign(d, {
        smtpHost: e.smtpHost,
        smtpPort: e.smtpPort || "",
        security: e.security || EmailConfig_Security.STARTTLS,
        username: e.username,
        from: e.from,
        to: e.to.join("\n"),
        attachSnapshot: e.attachSnapshot,
      });
      break;
    }
    case "sms": {
      const s = c.config.value;
      Object.assign(d, {
        provider: s.provider || SmsConfig_Provider.TWILIO,
        smsUrl: s.url,
        account: s.account,
        smsFrom: s.from,
        smsTo: s.to.join("\n"),
      });
      break;
    }
  }
  return d;
}

/** The channel the form describes, and what to fix first (the server checks the rest). */
export function draftToChannel(d: ChannelDraft, id = ""): { channel: Channel; errors: string[] } {
  const errors: string[] = [];
  const name = d.name.trim();
  if (!name) errors.push("Name: a channel needs a name.");
  let channel: Channel;
  if (d.kind === "webhook") {
    const url = d.url.trim();
    if (!/^https?:\/\/\S+$/i.test(url))
      errors.push("URL: an http:// or https:// address is needed.");
    const timeout = parseDuration(d.timeout || "10s");
    if (timeout === null || timeout <= 0 || timeout > 60)
      errors.push("Timeout: between 1 s and 60 s (e.g. 10s).");
    channel = create(ChannelSchema, {
      id,
      name,
      config: {
        case: "webhook",
        value: { url, secret: d.secret.trim(), timeout: toDuration(timeout ?? 10) },
      },
    });
  } else if (d.kind === "email") {
    const to = splitList(d.to);
    if (!d.smtpHost.trim()) errors.push("SMTP server: a host name is needed.");
    if (!d.from.trim()) errors.push("From: a sender address is needed.");
    if (to.length < 1 || to.length > 20) errors.push("To: 1 to 20 addresses.");
    const port = d.smtpPort === "" ? 0 : Number(d.smtpPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push("Port: 1–65535.");
    channel = create(ChannelSchema, {
      id,
      name,
      config: {
        case: "email",
        value: {
          smtpHost: d.smtpHost.trim(),
          smtpPort: Number.isInteger(port) ? port : 0,
          security: d.security,
          username: d.username.trim(),
          password: d.password,
          from: d.from.trim(),
          to,
          attachSnapshot: d.attachSnapshot,
        },
      },
    });
  } else {
    const to = splitList(d.smsTo);
    if (!/^https?:\/\/\S+$/i.test(d.smsUrl.trim()))
      errors.push("Provider URL: an http:// or https:// address is needed.");
    if (to.length < 1 || to.length > 20) errors.push("To: 1 to 20 numbers.");
    channel = create(ChannelSchema, {
      id,
      name,
      config: {
        case: "sms",
        value: {
          provider: d.provider,
          url: d.smsUrl.trim(),
          account: d.account.trim(),
          token: d.token,
          from: d.smsFrom.trim(),
          to,
        },
      },
    });
  }
  return { channel, errors };
}

/** Where a channel delivers, in a few words. */
export function channelTarget(c: Channel): string {
  switch (c.config.case) {
    case "webhook":
      return c.config.value.url;
    case "email":
      return `${c.config.value.to.join(", ")} via ${c.config.value.smtpHost}`;
    case "sms":
      return `${c.config.value.to.join(", ")} via ${c.config.value.provider === SmsConfig_Provider.KANNEL ? "Kannel" : "Twilio-compatible API"}`;
    default:
      return "";
  }
}

export function notificationStatusLabel(s: NotificationStatus): string {
  return (
    {
      [NotificationStatus.QUEUED]: "queued",
      [NotificationStatus.RETRYING]: "retrying",
      [NotificationStatus.DELIVERED]: "delivered",
      [NotificationStatus.FAILED]: "failed",
    }[s as number] ?? "unknown"
  );
}

export function notificationStatusColor(s: NotificationStatus): string {
  return (
    {
      [NotificationStatus.QUEUED]: "gray",
      [NotificationStatus.RETRYING]: "orange",
      [NotificationStatus.DELIVERED]: "teal",
      [NotificationStatus.FAILED]: "red",
    }[s as number] ?? "gray"
  );
}

export function notificationKindLabel(k: NotificationKind): string {
  return (
    {
      [NotificationKind.FIRING]: "firing",
      [NotificationKind.RESOLVED]: "resolved",
      [NotificationKind.TEST]: "test",
    }[k as number] ?? "unknown"
  );
}
