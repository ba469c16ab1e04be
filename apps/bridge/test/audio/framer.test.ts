import { describe, expect, it } from "vitest";
import { createFramer } from "../../src/audio/framer.js";
import { concatInt16, firstDifference, randomSplits, whiteNoise } from "./signals.js";

describe("createFramer", () => {
  it("cuts random chunk sizes into whole frames whose concatenation is the input", () => {
    for (const [samplesPerFrame, channels] of [
      [160, 1],
      [480, 2],
      [7, 1],
    ] as const) {
      const input = whiteNoise(10_001 * channels, samplesPerFrame);
      const frameLength = samplesPerFrame * channels;
      const framer = createFramer({ samplesPerFrame, channels });
      const frames: Int16Array[] = [];
      let offset = 0;
      for (const size of randomSplits(input.length, 1, 3 * frameLength, channels)) {
        frames.push(...framer.push(input.subarray(offset, offset + size)));
        offset += size;
        expect(framer.pendingSamples).toBe(offset % frameLength);
      }
      expect(frames.every((frame) => frame.length === frameLength)).toBe(true);
      const last = framer.flush({ pad: true });
      const remainder = input.length % frameLength;
      expect(last?.length).toBe(remainder === 0 ? undefined : frameLength);
      if (last !== undefined) frames.push(last);
      const output = concatInt16(frames);
      expect(firstDifference(output.subarray(0, input.length), input)).toBe(-1);
      expect(output.subarray(input.length).every((sample) => sample === 0)).toBe(true);
      expect(framer.pendingSamples).toBe(0);
    }
  });

  it("returns several frames from one large push and none from a small one", () => {
    const framer = createFramer({ samplesPerFrame: 4, channels: 1 });
    expect(framer.push(new Int16Array(3))).toEqual([]);
    const frames = framer.push(Int16Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    expect(frames.map((frame) => Array.from(frame))).toEqual([
      [0, 0, 0, 1],
      [2, 3, 4, 5],
      [6, 7, 8, 9],
    ]);
    expect(framer.pendingSamples).toBe(1);
  });

  it("hands out frames the caller owns", () => {
    const framer = createFramer({ samplesPerFrame: 2, channels: 1 });
    const input = Int16Array.from([1, 2, 3, 4]);
    const [first, second] = framer.push(input);
    input.fill(0);
    expect([Array.from(first ?? []), Array.from(second ?? [])]).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(first?.buffer).not.toBe(second?.buffer);
  });

  it("flushes a short frame without padding, pads with zeros on request", () => {
    const framer = createFramer({ samplesPerFrame: 4, channels: 2 });
    framer.push(Int16Array.from([1, 2, 3]));
    expect(Array.from(framer.flush() ?? [])).toEqual([1, 2, 3]);
    expect(framer.flush({ pad: true })).toBeUndefined();
    framer.push(Int16Array.from([9, 9, 9, 9, 9, 9, 9, 9, 5]));
    expect(Array.from(framer.flush({ pad: true }) ?? [])).toEqual([5, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("handles empty pushes and rejects bad sizes", () => {
    const framer = createFramer({ samplesPerFrame: 10, channels: 1 });
    expect(framer.push(new Int16Array(0))).toEqual([]);
    expect(framer.pendingSamples).toBe(0);
    expect(() => createFramer({ samplesPerFrame: 0, channels: 1 })).toThrow(RangeError);
    expect(() => createFramer({ samplesPerFrame: 160, channels: 1.5 })).toThrow(RangeError);
  });
});
