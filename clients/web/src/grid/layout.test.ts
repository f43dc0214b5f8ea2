import { describe, expect, it } from "vitest";
import { gridShape, LAYOUTS, pageCount, pageItems, parseLayout } from "./layout";

describe("grid layout", () => {
  it("has a tile for every slot of every layout", () => {
    for (const layout of LAYOUTS) {
      const { columns, rows } = gridShape(layout);
      expect(columns * rows).toBe(layout);
      expect(columns).toBeGreaterThanOrEqual(rows);
    }
  });

  it("pages cameras by layout size", () => {
    const cams = Array.from({ length: 37 }, (_, i) => i);
    expect(pageCount(cams.length, 16)).toBe(3);
    expect(pageItems(cams, 16, 2)).toEqual([32, 33, 34, 35, 36]);
    expect(pageItems(cams, 32, 0)).toHaveLength(32);
    expect(pageItems(cams, 32, 9)).toEqual([32, 33, 34, 35, 36]); // clamped to the last page
    expect(pageCount(0, 4)).toBe(1);
    expect(pageItems([], 4, 0)).toEqual([]);
  });

  it("parses layouts and falls back to 4", () => {
    expect(parseLayout("32")).toBe(32);
    expect(parseLayout("5")).toBe(4);
    expect(parseLayout(null)).toBe(4);
  });
});
