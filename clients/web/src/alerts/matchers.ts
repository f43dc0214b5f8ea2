// Matchers as people type them (silences, notification policies): one a line, `name=value` or
// `name!=value`, a value optionally in double quotes. Checked here so a typo is named before the
// round trip; the server stays the judge.
import { create } from "@bufbuild/protobuf";
import {
  Matcher_Operator,
  MatcherSchema,
  type Matcher,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";

const NAME_RE = /^[a-z0-9_.-]{1,63}$/;

const unquote = (v: string) =>
  v.length >= 2 && v.startsWith('"') && v.endsWith('"')
    ? v.slice(1, -1).replace(/\\(["\\])/g, "$1")
    : v;

/** The matchers in `text` and, for every line that is not one, a sentence saying what to fix. */
export function parseMatchers(text: string, max = 16): { matchers: Matcher[]; errors: string[] } {
  const matchers: Matcher[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const m = line.match(/^([^=!]*?)\s*(!=|=)\s*(.*)$/);
    if (!m) {
      errors.push(`Line ${i + 1}: “${line}” is not name=value or name!=value.`);
      return;
    }
    const [, name, op, value] = m;
    if (!NAME_RE.test(name)) {
      errors.push(
        `Line ${i + 1}: a label name is 1–63 characters of a-z, 0-9, '_', '.', '-'; got “${name}”.`,
      );
      return;
    }
    matchers.push(
      create(MatcherSchema, {
        name,
        value: unquote(value.trim()),
        operator: op === "!=" ? Matcher_Operator.NOT_EQUAL : Matcher_Operator.EQUAL,
      }),
    );
  });
  if (matchers.length > max) errors.push(`At most ${max} matchers, got ${matchers.length}.`);
  return { matchers, errors };
}

/** The editor's text for `matchers`, one a line. */
export function matchersToText(matchers: readonly Matcher[]): string {
  return matchers
    .map((m) => `${m.name}${m.operator === Matcher_Operator.NOT_EQUAL ? "!=" : "="}${m.value}`)
    .join("\n");
}

/** Matchers from label pairs (all EQUAL). */
export function equalMatchers(pairs: readonly [string, string][]): Matcher[] {
  return pairs.map(([name, value]) =>
    create(MatcherSchema, { name, value, operator: Matcher_Operator.EQUAL }),
  );
}
