// The notification policy form's state ⇄ camfleet.v1.NotificationPolicy.
import { create } from "@bufbuild/protobuf";
import {
  NotificationPolicySchema,
  type AlertSeverity,
  type NotificationPolicy,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { durationText, parseDuration, toDuration } from "./format";
import { matchersToText, parseMatchers } from "./matchers";

export interface PolicyDraft {
  name: string;
  order: number | string;
  matchers: string;
  severities: string[];
  channelIds: string[];
  groupBy: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  sendResolved: boolean;
  stop: boolean;
}

export function newPolicyDraft(): PolicyDraft {
  return {
    name: "",
    order: 0,
    matchers: "",
    severities: [],
    channelIds: [],
    groupBy: ["rule", "node"],
    groupWait: "30s",
    groupInterval: "5m",
    repeatInterval: "4h",
    sendResolved: true,
    stop: false,
  };
}

export function policyToDraft(p: NotificationPolicy): PolicyDraft {
  return {
    name: p.name,
    order: p.order,
    matchers: matchersToText(p.matchers),
    severities: p.severities.map(String),
    channelIds: [...p.channelIds],
    groupBy: [...p.groupBy],
    groupWait: durationText(p.groupWait) || "0s",
    groupInterval: durationText(p.groupInterval) || "5m",
    repeatInterval: durationText(p.repeatInterval) || "4h",
    sendResolved: p.sendResolved ?? true,
    stop: p.stop,
  };
}

const DAY = 86400;

export function draftToPolicy(
  d: PolicyDraft,
  id = "",
): { policy: NotificationPolicy; errors: string[] } {
  const errors: string[] = [];
  const name = d.name.trim();
  if (!name) errors.push("Name: a policy needs a name.");
  const order = Number(d.order === "" ? 0 : d.order);
  if (!Number.isInteger(order)) errors.push("Order: a whole number.");
  const { matchers, errors: matcherErrors } = parseMatchers(d.matchers);
  errors.push(...matcherErrors.map((e) => `Matchers: ${e}`));
  if (d.channelIds.length < 1 || d.channelIds.length > 20)
    errors.push("Channels: pick 1 to 20 channels.");
  const dur = (label: string, text: string, min: number, max: number, fallback: number) => {
    const s = parseDuration(text);
    if (s === null || s < min || s > max) {
      errors.push(`${label}: “${text}” is not a duration in range (e.g. 30s, 5m, 4h).`);
      return fallback;
    }
    return s;
  };
  const policy = create(NotificationPolicySchema, {
    id,
    name,
    order: Number.isInteger(order) ? order : 0,
    matchers,
    severities: d.severities.map((s) => Number(s) as AlertSeverity),
    channelIds: d.channelIds,
    groupBy: d.groupBy.map((g) => g.trim()).filter(Boolean),
    groupWait: toDuration(dur("Group wait", d.groupWait, 0, 3600, 30)),
    groupInterval: toDuration(dur("Group interval", d.groupInterval, 1, DAY, 300)),
    repeatInterval: toDuration(dur("Repeat interval", d.repeatInterval, 60, 30 * DAY, 4 * 3600)),
    sendResolved: d.sendResolved,
    stop: d.stop,
  });
  return { policy, errors };
}

export const POLICY_UPDATE_PATHS = [
  "name",
  "order",
  "matchers",
  "severities",
  "channel_ids",
  "group_by",
  "group_wait",
  "group_interval",
  "repeat_interval",
  "send_resolved",
  "stop",
];
