import { describe, expect, it } from "vitest";
import { durationFromMs, durationMs, type Duration } from "@bufbuild/protobuf/wkt";
import { RecordingProfile } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { groupSpec, toDraft, toUpdate, violationPath } from "./groups";

const recording = groupSpec("recording")!;
const storage = groupSpec("storage")!;
const security = groupSpec("security")!;
const notifications = groupSpec("notifications")!;

describe("settings forms", () => {
  it("show stored values in the field's unit", () => {
    const draft = toDraft(recording, {
      segmentLength: durationFromMs(2500),
      defaultProfile: RecordingProfile.LOW,
      defaultRetentionDays: 30,
    });
    expect(draft).toEqual({
      segment_length: "2.5",
      default_profile: String(RecordingProfile.LOW),
      default_retention_days: "30",
    });
    expect(toDraft(storage, { freeSpaceFloorBytes: 1n << 30n }).free_space_floor_bytes).toBe(
      "1024",
    );
    expect(
      toDraft(security, { refreshTokenTtl: durationFromMs(30 * 86_400_000) }).refresh_token_ttl,
    ).toBe("30");
  });

  it("send only what changed, with its mask path", () => {
    const before = toDraft(recording, {
      segmentLength: durationFromMs(10_000),
      defaultProfile: RecordingProfile.ORIGINAL,
      defaultRetentionDays: 0,
    });
    const { values, paths, problems } = toUpdate(recording, before, {
      ...before,
      segment_length: " 6 ",
    });
    expect(paths).toEqual(["segment_length"]);
    expect(durationMs(values.segmentLength as Duration)).toBe(6000);
    expect(problems).toEqual({});
    expect(toUpdate(recording, before, before).paths).toEqual([]);
  });

  it("leaves range checks to the server but refuses what is not a number", () => {
    const before = toDraft(storage, {
      warmAfter: durationFromMs(3_600_000),
      freeSpaceFloorBytes: 1n << 30n,
    });
    const negative = toUpdate(storage, before, { ...before, warm_after: "-1" });
    expect(negative.paths).toEqual(["warm_after"]);
    expect(durationMs(negative.values.warmAfter as Duration)).toBe(-3_600_000);
    const zero = toUpdate(storage, before, { ...before, free_space_floor_bytes: "0" });
    expect(zero.values.freeSpaceFloorBytes).toBe(0n);
    const words = toUpdate(storage, before, { ...before, warm_after: "soon" });
    expect(words.problems).toEqual({ warm_after: "Enter a number." });
    expect(words.paths).toEqual([]);
    const half = toUpdate(security, toDraft(security, {}), {
      ...toDraft(security, {}),
      password_min_length: "8.5",
    });
    expect(half.problems).toEqual({ password_min_length: "Enter a whole number." });
  });

  it("splits the allowlist into entries", () => {
    const before = toDraft(security, { loginAllowlist: ["10.0.0.0/8"] });
    expect(before.login_allowlist).toBe("10.0.0.0/8");
    const { values } = toUpdate(security, before, {
      ...before,
      login_allowlist: "10.0.0.0/8\n 192.168.1.0/24, \n",
    });
    expect(values.loginAllowlist).toEqual(["10.0.0.0/8", "192.168.1.0/24"]);
  });

  it("sends a secret only when typed, and its clearing by name", () => {
    const before = toDraft(notifications, { smtpHost: "mail", smtpPasswordSet: true });
    expect(before.smtp_password).toBe("");
    expect(toUpdate(notifications, before, before).paths).toEqual([]);
    const typed = toUpdate(notifications, before, { ...before, smtp_password: "s3cret" });
    expect(typed.paths).toEqual(["smtp_password"]);
    expect(typed.values.smtpPassword).toBe("s3cret");
    const cleared = toUpdate(notifications, before, { ...before, clear_sms_token: "true" });
    expect(cleared.paths).toEqual(["clear_sms_token"]);
    expect(cleared.values.clearSmsToken).toBe(true);
  });

  it("places a server's field violation at its field", () => {
    expect(violationPath(recording, "recording.segment_length")).toBe("segment_length");
    expect(violationPath(recording, "settings.recording.segment_length")).toBe("segment_length");
    expect(violationPath(recording, "segment_length")).toBe("segment_length");
    expect(violationPath(security, "security.login_allowlist[1]")).toBe("login_allowlist");
    expect(violationPath(notifications, "clear_smtp_password")).toBe("smtp_password");
    expect(violationPath(recording, "version")).toBeUndefined();
  });
});
