import { describe, expect, it } from "vitest";
import { Latest } from "./latest";

describe("Latest", () => {
  it("applies only the newest ask's answer, whatever order the answers come in", () => {
    const latest = new Latest();
    const streaming = latest.begin();
    const notifications = latest.begin();
    // The later ask answered first, then the earlier one: only the later applies.
    expect(notifications()).toBe(true);
    expect(streaming()).toBe(false);
  });

  it("applies nothing asked before the page closed", () => {
    const latest = new Latest();
    const ask = latest.begin();
    expect(ask()).toBe(true);
    latest.drop();
    expect(ask()).toBe(false);
    expect(latest.begin()()).toBe(true);
  });
});
