import { describe, expect, it } from "vitest";
import { PlacementReason } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { GapCause } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { describeGap, GAP_CAUSES, gapCauseInfo, loadOf, placementReasonWords } from "./words";

describe("fleet words", () => {
  it("names every placement reason", () => {
    expect(placementReasonWords(PlacementReason.NODE_LOST)).toBe("its node was lost");
    expect(placementReasonWords(PlacementReason.UNSPECIFIED)).toBe("no reason given");
  });

  it("gives each gap cause its own words and colour", () => {
    expect(new Set(GAP_CAUSES.map((c) => c.color)).size).toBe(GAP_CAUSES.length);
    expect(gapCauseInfo(GapCause.DISK_FULL).label).toBe("disk full");
    expect(gapCauseInfo(GapCause.UNSPECIFIED).key).toBe("UNKNOWN");
  });

  it("describes a gap with its nodes by name", () => {
    const names = (id: string) => ({ n1: "edge-1", n2: "edge-2" })[id] ?? id;
    expect(describeGap(GapCause.NODE_LOST, ["n2", "n1"], "node lost", names)).toBe(
      "Node lost on edge-2, taken over by edge-1",
    );
    expect(describeGap(GapCause.SOURCE_ERROR, ["n1"], "authentication failed", names)).toBe(
      "Source error on edge-1 — authentication failed",
    );
    expect(describeGap(GapCause.UNKNOWN, [], "", names)).toBe("Unknown cause");
  });

  it("measures load against capacity", () => {
    expect(loadOf(2, 8)).toMatchObject({ percent: 25, label: "2 / 8 cameras", color: "teal" });
    expect(loadOf(9, 8)).toMatchObject({ percent: 100, color: "red" });
    expect(loadOf(1, 0)).toMatchObject({ percent: 0, label: "1 camera (no limit)" });
  });
});
