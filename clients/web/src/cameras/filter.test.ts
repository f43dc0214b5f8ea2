import { describe, expect, it } from "vitest";
import { cameraFilter } from "./filter";

describe("cameraFilter", () => {
  it("is empty without filters", () => {
    expect(cameraFilter({})).toBe("");
    expect(cameraFilter({ status: null, active: null })).toBe("");
  });
  it("joins terms with AND and quotes label values", () => {
    expect(
      cameraFilter({ status: "ONLINE", active: false, recording: true, label: 'site = shop "2"' }),
    ).toBe(
      'status = ONLINE AND active = false AND recording_enabled = true AND labels.site = "shop \\"2\\""',
    );
  });
  it("ignores a label filter that is not key=value", () => {
    expect(cameraFilter({ label: "just words" })).toBe("");
  });
});
