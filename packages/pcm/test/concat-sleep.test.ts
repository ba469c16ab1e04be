import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { concatInt16, concatUint8 } from "../src/concat.js";
import { sleep } from "../src/sleep.js";

describe("concatInt16", () => {
  it("joins parts in order, including views at an offset and empty parts", () => {
    const view = new Int16Array([9, 3, 4]).subarray(1);
    const joined = concatInt16([new Int16Array([1, 2]), new Int16Array(0), view]);
    expect(Array.from(joined)).toEqual([1, 2, 3, 4]);
    expect(concatInt16([]).length).toBe(0);
  });

  it("returns a single part as it is", () => {
    const only = new Int16Array([5, 6]);
    expect(concatInt16([only])).toBe(only);
  });
});

describe("concatUint8", () => {
  it("joins byte parts in order into a fresh array, including views at an offset", () => {
    const view = new Uint8Array([9, 3, 255]).subarray(1);
    const first = new Uint8Array([1, 2]);
    const joined = concatUint8([first, new Uint8Array(0), view]);
    expect(Array.from(joined)).toEqual([1, 2, 3, 255]);
    expect(joined.buffer).not.toBe(first.buffer);
    expect(concatUint8([]).length).toBe(0);
  });
});

describe("sleep", () => {
  it("resolves after the time and leaves no listener behind", async () => {
    const controller = new AbortController();
    const started = performance.now();
    await sleep(30, controller.signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("rejects with the signal's reason when aborted first, or already aborted", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(new Error("stop")), 10);
    await expect(pending).rejects.toThrow("stop");
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(sleep(10, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });
});
