import { describe, expect, it } from "vitest";
import { auditFilter } from "./filter";

describe("auditFilter", () => {
  it("builds nothing from empty controls", () => {
    expect(auditFilter({ actor: "  ", outcome: null })).toBe("");
  });
  it("quotes values and converts local times to UTC", () => {
    const from = "2026-11-01T08:30";
    const f = auditFilter({ actor: "admin", action: "camera.*", outcome: "denied", from });
    expect(f).toBe(
      `actor = "admin" AND action = "camera.*" AND outcome = "denied" AND time >= "${new Date(from).toISOString().replace(/\.000Z$/, "Z")}"`,
    );
  });
  it("drops an unparseable time", () => {
    expect(auditFilter({ to: "not a time" })).toBe("");
  });
});
