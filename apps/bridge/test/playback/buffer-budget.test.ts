import { describe, expect, it } from "vitest";
import {
  createPlaybackBufferBudget,
  playbackBufferedBytes,
} from "../../src/playback/buffer-budget.js";

describe("the playback buffer budget", () => {
  it("makes a download wait past its window or past the process total, never one holding nothing", () => {
    const budget = createPlaybackBufferBudget({ windowBytes: 100, totalBytes: 250 });
    const base = playbackBufferedBytes();
    expect(budget.mustWait(0)).toBe(false);
    expect(budget.mustWait(99)).toBe(false);
    expect(budget.mustWait(100)).toBe(true);
    budget.add(90);
    budget.add(90);
    budget.add(80);
    expect(budget.held()).toBe(260);
    expect(playbackBufferedBytes() - base).toBe(260);
    // Over the total: everyone holding something waits, an empty download may read.
    expect(budget.mustWait(10)).toBe(true);
    expect(budget.mustWait(0)).toBe(false);
    let told = 0;
    const unsubscribe = budget.onRelease(() => told++);
    budget.release(80);
    expect(told).toBe(1);
    expect(budget.mustWait(10)).toBe(false);
    unsubscribe();
    budget.release(180);
    expect(told).toBe(1);
    expect(budget.held()).toBe(0);
    expect(playbackBufferedBytes()).toBe(base);
  });
});
