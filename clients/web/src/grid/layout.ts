// Live-view grid geometry: the layouts an operator can pick, their rows × columns, and which
// cameras a page of the grid shows.

export const LAYOUTS = [1, 4, 8, 16, 32] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Columns and rows for a layout: as square as possible, wider than tall (screens are). */
export function gridShape(layout: Layout): { columns: number; rows: number } {
  switch (layout) {
    case 1:
      return { columns: 1, rows: 1 };
    case 4:
      return { columns: 2, rows: 2 };
    case 8:
      return { columns: 4, rows: 2 };
    case 16:
      return { columns: 4, rows: 4 };
    case 32:
      return { columns: 8, rows: 4 };
  }
}

/** How many pages `count` cameras fill at this layout (at least 1, so an empty grid has a page). */
export function pageCount(count: number, layout: Layout): number {
  return Math.max(1, Math.ceil(count / layout));
}

/** The items shown on page `page` (0-based, clamped into range). */
export function pageItems<T>(items: readonly T[], layout: Layout, page: number): T[] {
  const last = pageCount(items.length, layout) - 1;
  const p = Math.min(Math.max(0, Math.floor(page)), last);
  return items.slice(p * layout, (p + 1) * layout);
}

/** Parse a layout from a URL/storage value; anything unknown falls back to 4. */
export function parseLayout(value: string | null | undefined): Layout {
  const n = Number(value);
  return (LAYOUTS as readonly number[]).includes(n) ? (n as Layout) : 4;
}
