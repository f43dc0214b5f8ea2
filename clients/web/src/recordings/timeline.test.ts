import { describe, expect, it } from "vitest";
import { dayBounds, instantAt, place, playableFrom } from "./timeline";

const H = 3_600_000;

describe("day timeline", () => {
  const day = dayBounds(new Date(2026, 11, 2, 13, 5).getTime());

  it("covers local midnight to midnight", () => {
    expect(new Date(day.start).getHours()).toBe(0);
    expect(day.end - day.start).toBeGreaterThanOrEqual(23 * H); // DST days are 23 or 25 hours
  });

  it("places and clips intervals on the bar", () => {
    const placed = place(
      [
        { start: day.start - H, end: day.start + 6 * H },
        { start: day.start + 12 * H, end: day.start + 18 * H },
        { start: day.end + H, end: day.end + 2 * H },
      ],
      { start: day.start, end: day.start + 24 * H },
    );
    expect(placed.map((p) => [p.left, p.width])).toEqual([
      [0, 25],
      [50, 25],
    ]);
  });

  it("maps a click to an instant and jumps over gaps", () => {
    const range = { start: 0, end: 24 * H };
    expect(instantAt(0.5, range)).toBe(12 * H);
    expect(instantAt(2, range)).toBe(24 * H);
    const spans = [
      { start: 2 * H, end: 3 * H },
      { start: 5 * H, end: 6 * H },
    ];
    expect(playableFrom(2.5 * H, spans)).toBe(2.5 * H);
    expect(playableFrom(4 * H, spans)).toBe(5 * H);
    expect(playableFrom(7 * H, spans)).toBeUndefined();
  });
});
