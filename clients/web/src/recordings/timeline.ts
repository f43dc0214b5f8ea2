// Day timeline geometry: where recorded spans and gaps sit on a bar that covers one day, and
// which instant a click on the bar means.

export interface Interval {
  start: number; // ms since epoch
  end: number;
}

export interface Placed extends Interval {
  /** Offset and width on the bar, in percent. */
  left: number;
  width: number;
}

/** Local midnight of the day containing `ms`, and the next one. */
export function dayBounds(ms: number): Interval {
  const d = new Date(ms);
  const start = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const end = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
  return { start, end };
}

/** Intervals clipped to `range` and placed on the bar; those outside it are dropped. */
export function place(intervals: readonly Interval[], range: Interval): Placed[] {
  const span = range.end - range.start;
  const out: Placed[] = [];
  for (const i of intervals) {
    const start = Math.max(i.start, range.start);
    const end = Math.min(i.end, range.end);
    if (end <= start) continue;
    out.push({
      start,
      end,
      left: ((start - range.start) / span) * 100,
      width: ((end - start) / span) * 100,
    });
  }
  return out;
}

/** The instant at `fraction` (0–1) of the bar. */
export function instantAt(fraction: number, range: Interval): number {
  const f = Math.min(1, Math.max(0, fraction));
  return Math.round(range.start + f * (range.end - range.start));
}

/** The recorded interval containing `ms`, or else the first one after it (clicks in a gap jump forward). */
export function playableFrom(ms: number, spans: readonly Interval[]): number | undefined {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (const s of sorted) {
    if (ms >= s.start && ms < s.end) return ms;
    if (s.start > ms) return s.start;
  }
  return undefined;
}
