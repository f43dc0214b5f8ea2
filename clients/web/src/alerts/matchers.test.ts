import { describe, expect, it } from "vitest";
import { Matcher_Operator } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { equalMatchers, matchersToText, parseMatchers } from "./matchers";

const plain = (ms: { name: string; value: string; operator: Matcher_Operator }[]) =>
  ms.map((m) => [m.name, m.operator === Matcher_Operator.NOT_EQUAL ? "!=" : "=", m.value]);

describe("matchers", () => {
  it("reads equal and not-equal, quoted or not", () => {
    const { matchers, errors } = parseMatchers(
      'site=north\n\n severity != info \ncamera_name="Lobby 2"',
    );
    expect(errors).toEqual([]);
    expect(plain(matchers)).toEqual([
      ["site", "=", "north"],
      ["severity", "!=", "info"],
      ["camera_name", "=", "Lobby 2"],
    ]);
  });
  it("names every line that is not a matcher", () => {
    const { matchers, errors } = parseMatchers("just words\nSite=north\nok=1");
    expect(plain(matchers)).toEqual([["ok", "=", "1"]]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^Line 1: .*not name=value/);
    expect(errors[1]).toMatch(/^Line 2: a label name/);
  });
  it("caps their number", () => {
    const text = Array.from({ length: 17 }, (_, i) => `k${i}=v`).join("\n");
    expect(parseMatchers(text).errors).toEqual(["At most 16 matchers, got 17."]);
  });
  it("round-trips through the editor's text", () => {
    const ms = equalMatchers([
      ["rule", "offline"],
      ["camera", "cam_1"],
    ]);
    expect(matchersToText(ms)).toBe("rule=offline\ncamera=cam_1");
    expect(plain(parseMatchers(matchersToText(ms)).matchers)).toEqual(plain(ms));
  });
});
