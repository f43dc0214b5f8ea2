import { describe, expect, it } from "vitest";
import { describeLabels, labelsToText, parseLabels, sameLabels } from "./labels";

describe("label text", () => {
  it("round-trips sorted pairs", () => {
    const text = labelsToText({ site: "north", rack: "2" });
    expect(text).toBe("rack=2\nsite=north");
    expect(parseLabels(text)).toEqual({ labels: { rack: "2", site: "north" }, errors: [] });
    expect(describeLabels({ site: "north", rack: "2" })).toBe("rack=2, site=north");
  });

  it("trims, skips blank lines and allows empty values", () => {
    expect(parseLabels("  site = north \n\n gpu=\n")).toEqual({
      labels: { site: "north", gpu: "" },
      errors: [],
    });
  });

  it("names every line that is not label syntax", () => {
    const { labels, errors } = parseLabels(
      "Site=north\nzone=eu west\nplain\nok=1\nok=2\n" + `${"k".repeat(64)}=v`,
    );
    expect(labels).toEqual({ ok: "1" });
    expect(errors).toEqual([
      "Line 1: keys are 1–63 characters of a-z, 0-9, '_', '.', '-'; got “Site”.",
      "Line 2: values are up to 63 characters of A-Z, a-z, 0-9, '_', '.', '-'; got “eu west”.",
      "Line 3: “plain” is not key=value.",
      "Line 5: “ok” is given twice.",
      `Line 6: keys are 1–63 characters of a-z, 0-9, '_', '.', '-'; got “${"k".repeat(40)}…”.`,
    ]);
  });

  it("limits the number of pairs", () => {
    const text = Array.from({ length: 3 }, (_, i) => `k${i}=v`).join("\n");
    expect(parseLabels(text, 2).errors).toEqual(["At most 2 pairs, got 3."]);
  });

  it("compares maps by their pairs", () => {
    expect(sameLabels({ a: "1", b: "2" }, { b: "2", a: "1" })).toBe(true);
    expect(sameLabels({ a: "1" }, { a: "2" })).toBe(false);
    expect(sameLabels({ a: "1" }, { a: "1", b: "" })).toBe(false);
  });
});
