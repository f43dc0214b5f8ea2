import { describe, expect, it } from "vitest";
import {
  alertTabFilter,
  equals,
  formatDuration,
  fromDuration,
  fromLocalInput,
  identifyingLabels,
  labelsForDisplay,
  localInputValue,
  parseDuration,
  silenceWindow,
  toDuration,
} from "./format";

describe("durations", () => {
  it("reads what people type", () => {
    expect(parseDuration("90")).toBe(90);
    expect(parseDuration("30s")).toBe(30);
    expect(parseDuration(" 5m ")).toBe(300);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1h 30m")).toBe(5400);
    expect(parseDuration("2d")).toBe(172800);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("1.5s")).toBe(1.5);
  });
  it("refuses what is not a duration", () => {
    for (const bad of ["", "m", "5 minutes", "-5s", "5x", "1h30"])
      expect(parseDuration(bad)).toBeNull();
  });
  it("writes the shortest exact spelling, which reads back", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(300)).toBe("5m");
    expect(formatDuration(5400)).toBe("1h30m");
    expect(formatDuration(90061)).toBe("1d1h1m1s");
    for (const s of [1, 59, 61, 3600, 86400, 14400])
      expect(parseDuration(formatDuration(s))).toBe(s);
  });
  it("converts to and from google.protobuf.Duration", () => {
    const d = toDuration(1.25);
    expect(d.seconds).toBe(1n);
    expect(d.nanos).toBe(250_000_000);
    expect(fromDuration(d)).toBe(1.25);
    expect(fromDuration(undefined)).toBe(0);
  });
});

describe("filters", () => {
  it("lists a tab's alerts by state", () => {
    expect(alertTabFilter("firing")).toBe("state = FIRING");
    expect(alertTabFilter("resolved")).toBe("state = RESOLVED");
  });
  it("quotes values", () => {
    expect(equals("channel_id", 'a"b\\c')).toBe('channel_id = "a\\"b\\\\c"');
  });
});

describe("identifying labels", () => {
  it("silence a camera alert by rule and camera, not by the node it happens to be on", () => {
    expect(
      identifyingLabels({
        rule: "offline",
        severity: "warning",
        camera: "cam_1",
        camera_name: "Lobby",
        node: "node_2",
        site: "north",
      }),
    ).toEqual([
      ["rule", "offline"],
      ["camera", "cam_1"],
    ]);
  });
  it("a node alert by its node, a login alert by user or address", () => {
    expect(identifyingLabels({ rule: "lost", node: "node_2", node_name: "edge-2" })).toEqual([
      ["rule", "lost"],
      ["node", "node_2"],
    ]);
    expect(identifyingLabels({ rule: "logins", address: "10.0.0.9" })).toEqual([
      ["rule", "logins"],
      ["address", "10.0.0.9"],
    ]);
  });
  it("an alert without rule or subject: all of its labels", () => {
    expect(identifyingLabels({ b: "2", a: "1" })).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
  });
  it("shows names first and leaves out what the row already says", () => {
    expect(
      labelsForDisplay({
        rule: "r",
        severity: "warning",
        zone: "z",
        camera: "cam_1",
        camera_name: "Lobby",
      }),
    ).toEqual([
      ["camera_name", "Lobby"],
      ["camera", "cam_1"],
      ["zone", "z"],
    ]);
  });
});

describe("datetime-local values", () => {
  it("round-trip to the minute", () => {
    const ms = new Date(2026, 11, 5, 22, 7).getTime();
    expect(localInputValue(ms)).toBe("2026-12-05T22:07");
    expect(fromLocalInput(localInputValue(ms))).toBe(ms);
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("nonsense")).toBeNull();
  });
});

describe("a silence's window", () => {
  const now = new Date(2026, 11, 5, 22, 0).getTime();
  it("starts now when no start is given", () => {
    expect(silenceWindow("", "2026-12-05T23:00", now)).toEqual({
      startMs: null,
      endMs: now + 3600_000,
      problems: [],
    });
  });
  it("must end after its start and after now", () => {
    expect(silenceWindow("", "2026-12-05T21:00", now).problems).toEqual([
      "Until: must be later than the start and than now.",
    ]);
    expect(silenceWindow("2026-12-06T10:00", "2026-12-06T09:00", now).problems).toEqual([
      "Until: must be later than the start and than now.",
    ]);
    expect(silenceWindow("2026-12-06T10:00", "", now).problems).toEqual([
      "Until: pick a date and time.",
    ]);
  });
});
