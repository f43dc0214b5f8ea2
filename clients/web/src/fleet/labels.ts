// Node labels and cameras' node selectors as people type them: one key=value a line, checked
// here with the server's label syntax (server/common/labels.py) so a typo is named before the
// round trip; the server stays the judge and its refusal is shown as well.

export const LABEL_KEY_RE = /^[a-z0-9_.-]{1,63}$/;
export const LABEL_VALUE_RE = /^[A-Za-z0-9_.-]{0,63}$/;
export const KEY_RULE = "keys are 1–63 characters of a-z, 0-9, '_', '.', '-'";
export const VALUE_RULE = "values are up to 63 characters of A-Z, a-z, 0-9, '_', '.', '-'";

export type Labels = Record<string, string>;

/** "site=north\nrack=2": the editor's text for `labels`, sorted by key. */
export function labelsToText(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join("\n");
}

/** "rack=2, site=north": labels on one line, sorted by key ("" for none). */
export function describeLabels(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(", ");
}

const shown = (s: string) => `“${s.length > 40 ? `${s.slice(0, 40)}…` : s}”`;

/** The labels in `text` (one key=value a line, blank lines ignored) and, for every line that
 * is not a valid pair, a sentence saying what to fix. */
export function parseLabels(text: string, maxPairs = 16): { labels: Labels; errors: string[] } {
  const labels: Labels = {};
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const at = `Line ${i + 1}`;
    const eq = line.indexOf("=");
    if (eq < 0) {
      errors.push(`${at}: ${shown(line)} is not key=value.`);
      return;
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!LABEL_KEY_RE.test(key)) errors.push(`${at}: ${KEY_RULE}; got ${shown(key)}.`);
    else if (!LABEL_VALUE_RE.test(value)) errors.push(`${at}: ${VALUE_RULE}; got ${shown(value)}.`);
    else if (key in labels) errors.push(`${at}: ${shown(key)} is given twice.`);
    else labels[key] = value;
  });
  const count = Object.keys(labels).length;
  if (count > maxPairs) errors.push(`At most ${maxPairs} pairs, got ${count}.`);
  return { labels, errors };
}

/** Whether two label maps hold the same pairs. */
export function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && a[k] === b[k]);
}
