import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import {
  AlertSeverity,
  ChannelSchema,
  EmailConfig_Security,
  SmsConfig_Provider,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { fromDuration } from "./format";
import {
  channelTarget,
  channelToDraft,
  draftToChannel,
  newChannelDraft,
  splitList,
} from "./channels";
import { draftToPolicy, newPolicyDraft, policyToDraft } from "./policies";

describe("channel drafts", () => {
  it("a webhook without a secret asks the server to generate one", () => {
    const { channel, errors } = draftToChannel({
      ...newChannelDraft("webhook"),
      name: "ops hook",
      url: "http://127.0.0.1:9000/hook",
    });
    expect(errors).toEqual([]);
    expect(channel.config.case).toBe("webhook");
    if (channel.config.case !== "webhook") return;
    expect(channel.config.value.secret).toBe("");
    expect(fromDuration(channel.config.value.timeout)).toBe(10);
    expect(channelTarget(channel)).toBe("http://127.0.0.1:9000/hook");
  });

  it("refuses other schemes before the round trip", () => {
    const { errors } = draftToChannel({ ...newChannelDraft(), name: "x", url: "ftp://h/x" });
    expect(errors).toEqual(["URL: an http:// or https:// address is needed."]);
  });

  it("email and SMS recipients from lines or commas; secrets never read back", () => {
    expect(splitList("a@x.org, b@x.org\n c@x.org;")).toEqual(["a@x.org", "b@x.org", "c@x.org"]);
    const { channel, errors } = draftToChannel({
      ...newChannelDraft("email"),
      name: "mail",
      smtpHost: "127.0.0.1",
      smtpPort: 2525,
      security: EmailConfig_Security.NONE,
      from: "camfleet@x.org",
      to: "a@x.org, b@x.org",
      password: "pw",
    });
    expect(errors).toEqual([]);
    const draft = channelToDraft(create(ChannelSchema, { ...channel, secretSet: true }));
    expect(draft.to).toBe("a@x.org\nb@x.org");
    expect(draft.password).toBe("");
    expect(draft.smtpPort).toBe(2525);
    const sms = draftToChannel({
      ...newChannelDraft("sms"),
      name: "sms",
      provider: SmsConfig_Provider.KANNEL,
      smsUrl: "http://127.0.0.1:13013/cgi-bin/sendsms",
      smsTo: "",
    });
    expect(sms.errors).toEqual(["To: 1 to 20 numbers."]);
  });
});

describe("policy drafts", () => {
  it("defaults as Alertmanager's, and reads back", () => {
    const { policy, errors } = draftToPolicy({
      ...newPolicyDraft(),
      name: "on call",
      matchers: "site=north",
      severities: [String(AlertSeverity.CRITICAL)],
      channelIds: ["ch_1"],
    });
    expect(errors).toEqual([]);
    expect(policy.groupBy).toEqual(["rule", "node"]);
    expect(fromDuration(policy.groupWait)).toBe(30);
    expect(fromDuration(policy.groupInterval)).toBe(300);
    expect(fromDuration(policy.repeatInterval)).toBe(14400);
    expect(policy.severities).toEqual([AlertSeverity.CRITICAL]);
    expect(policy.sendResolved).toBe(true);
    const back = policyToDraft(policy);
    expect([back.matchers, back.groupWait, back.repeatInterval]).toEqual([
      "site=north",
      "30s",
      "4h",
    ]);
  });
  it("needs a channel and durations in range", () => {
    const { errors } = draftToPolicy({ ...newPolicyDraft(), name: "p", repeatInterval: "10s" });
    expect(errors).toEqual([
      "Channels: pick 1 to 20 channels.",
      "Repeat interval: “10s” is not a duration in range (e.g. 30s, 5m, 4h).",
    ]);
  });
});
