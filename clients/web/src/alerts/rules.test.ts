import { describe, expect, it } from "vitest";
import {
  AlertSeverity,
  FailedLoginsCondition_By,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { fromDuration } from "./format";
import { describeRule, draftToRule, newRuleDraft, ruleToDraft } from "./rules";

describe("rule drafts", () => {
  it("a camera-offline rule with for=0 becomes the proto the server expects", () => {
    const { rule, errors } = draftToRule({
      ...newRuleDraft(),
      name: " Camera offline ",
      for: "0",
      severity: AlertSeverity.CRITICAL,
      labels: "team=ops",
      matchLabels: "site=north",
    });
    expect(errors).toEqual([]);
    expect(rule.name).toBe("Camera offline");
    expect(rule.condition?.kind.case).toBe("cameraOffline");
    expect(fromDuration(rule.for)).toBe(0);
    expect(rule.severity).toBe(AlertSeverity.CRITICAL);
    expect(rule.labels).toEqual({ team: "ops" });
    expect(rule.matchLabels).toEqual({ site: "north" });
    expect(rule.enabled).toBe(true);
  });

  it("each kind carries its thresholds and reads back", () => {
    const { rule, errors } = draftToRule(
      {
        ...newRuleDraft(),
        name: "logins",
        kind: "failedLogins",
        loginCount: 10,
        loginWindow: "10m",
        loginBy: "address",
        keepFiringFor: "2m",
      },
      "rule_1",
    );
    expect(errors).toEqual([]);
    expect(rule.id).toBe("rule_1");
    const k = rule.condition?.kind;
    expect(k?.case).toBe("failedLogins");
    if (k?.case !== "failedLogins") return;
    expect(k.value.count).toBe(10);
    expect(fromDuration(k.value.window)).toBe(600);
    expect(k.value.by).toBe(FailedLoginsCondition_By.ADDRESS);
    const back = ruleToDraft(rule);
    expect([
      back.kind,
      back.loginCount,
      back.loginWindow,
      back.loginBy,
      back.keepFiringFor,
    ]).toEqual(["failedLogins", 10, "10m", "address", "2m"]);
    expect(describeRule(rule)).toBe("10 failures per address in 10m · for 1m · keep firing 2m");
  });

  it("stream quality: bitrate as an int64, off at 0", () => {
    const { rule, errors } = draftToRule({
      ...newRuleDraft(),
      name: "q",
      kind: "streamQuality",
      minFps: 0,
      minBitrateKbps: 500,
    });
    expect(errors).toEqual([]);
    const k = rule.condition?.kind;
    expect(k?.case === "streamQuality" && k.value.minBitrateKbps).toBe(500n);
    expect(describeRule(rule)).toBe("bitrate < 500 kbit/s · for 1m");
  });

  it("names every bad threshold", () => {
    const { errors } = draftToRule({
      ...newRuleDraft(),
      name: "",
      kind: "recordingGap",
      minGap: "",
      minRecordedPercent: 0,
      gapWindow: "400d",
      for: "2 days",
      labels: "Bad Key=1",
    });
    expect(errors).toEqual([
      "Name: a rule needs a name.",
      "Window: must be between 1 min and 7 days.",
      "Recording gap: set a minimum gap, a minimum recorded %, or both.",
      expect.stringMatching(/^Labels: Line 1: keys are/),
      "For: “2 days” is not a duration (e.g. 30s, 5m, 1h).",
    ]);
    expect(
      draftToRule({ ...newRuleDraft(), name: "d", kind: "nodeDisk", minFreePercent: 120 }).errors,
    ).toEqual(["Minimum free %: must be between 0.1 and 99 (0: off)."]);
    expect(
      draftToRule({ ...newRuleDraft(), name: "c", kind: "recorderCrashLoop", restarts: 1 }).errors,
    ).toEqual(["Restarts: must be between 2 and 1000."]);
  });
});
