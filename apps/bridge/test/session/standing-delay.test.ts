import { describe, expect, it } from "vitest";
import { createStandingDelayGate } from "../../src/session/standing-delay.js";

/** Feeds chunks 20 ms apart with the given waits; returns which went out. */
function run(waits: readonly number[], boundMs = 200, windowMs = 1_000): boolean[] {
  const gate = createStandingDelayGate({ boundMs, windowMs });
  return waits.map((waited, i) => gate.admit(waited, i * 20));
}

describe("standing delay gate", () => {
  it("lets every chunk through while waits stay within the bound", () => {
    expect(run(Array(200).fill(150)).every(Boolean)).toBe(true);
  });

  it("lets a transient wait above the bound through (a pause that drains)", () => {
    // 600 ms of chunks that waited 500 ms (a blocked loop), then back to 10 ms.
    const waits = [...Array(30).fill(500), ...Array(100).fill(10)];
    expect(run(waits).every(Boolean)).toBe(true);
  });

  it("drops, after a whole window above the bound, every chunk above it until one is within", () => {
    // 1.5 s of chunks that all waited 400 ms, then fresh ones.
    const waits = [...Array(75).fill(400), ...Array(10).fill(20)];
    const out = run(waits);
    // The first second's chunks (0..980 ms) go out; from 1,000 ms on they are dropped.
    expect(out.slice(0, 50).every(Boolean)).toBe(true);
    expect(out.slice(50, 75).some(Boolean)).toBe(false);
    expect(out.slice(75).every(Boolean)).toBe(true);
  });

  it("starts its window again after a chunk within the bound", () => {
    // Above for 900 ms, one chunk within, above for 900 ms again: never a whole window.
    const waits = [...Array(45).fill(300), 50, ...Array(45).fill(300)];
    expect(run(waits).every(Boolean)).toBe(true);
  });

  it("drops nothing with the bound off (0)", () => {
    expect(run(Array(200).fill(5_000), 0).every(Boolean)).toBe(true);
  });
});
