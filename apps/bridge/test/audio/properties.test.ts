import { createDropOldestQueue } from "@mentra/pcm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEndiannessNormaliser } from "../../src/audio/endianness.js";
import { createFramer } from "../../src/audio/framer.js";
import {
  int16FromBigEndian,
  int16FromLittleEndian,
  int16ToLittleEndianBytes,
  PcmFormatError,
  validateChunkFormat,
} from "../../src/audio/pcm.js";

// Properties over arbitrary input: no exception beyond the documented ones, lengths
// conserved, no sample lost or duplicated at chunk and frame boundaries.

const samples = fc.array(fc.integer({ min: -32_768, max: 32_767 }), { maxLength: 4_000 });
/** Split points for cutting a sequence into chunks of arbitrary sizes. */
const cuts = fc.array(fc.nat({ max: 4_000 }), { maxLength: 20 });

function split<T extends { subarray(a: number, b?: number): T; length: number }>(
  whole: T,
  points: number[],
): T[] {
  const sorted = [...new Set(points.map((p) => p % (whole.length + 1)))].sort((a, b) => a - b);
  const parts: T[] = [];
  let start = 0;
  for (const point of sorted) {
    parts.push(whole.subarray(start, point));
    start = point;
  }
  parts.push(whole.subarray(start));
  return parts;
}

describe("properties", () => {
  it("framer: frames concatenated (plus the flushed tail) equal the input, for any chunking", () => {
    fc.assert(
      fc.property(
        samples,
        cuts,
        fc.integer({ min: 1, max: 480 }),
        fc.constantFrom(1, 2),
        (values, points, perFrame, channels) => {
          const input = Int16Array.from(
            values.slice(0, values.length - (values.length % channels)),
          );
          const framer = createFramer({ samplesPerFrame: perFrame, channels });
          const out: number[] = [];
          for (const chunk of split(
            input,
            points.map((p) => channels * (p % (input.length / channels + 1))),
          )) {
            for (const frame of framer.push(chunk)) {
              expect(frame.length).toBe(perFrame * channels);
              out.push(...frame);
            }
          }
          const tail = framer.flush();
          if (tail !== undefined) out.push(...tail);
          expect(out).toEqual(Array.from(input));
          expect(framer.pendingSamples).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("PCM byte order: LE and BE round trips are exact at any byte offset", () => {
    fc.assert(
      fc.property(samples, fc.nat({ max: 7 }), (values, pad) => {
        const input = Int16Array.from(values);
        const le = int16ToLittleEndianBytes(input);
        const shifted = new Uint8Array(le.length + pad);
        shifted.set(le, pad);
        expect(Array.from(int16FromLittleEndian(shifted.subarray(pad)))).toEqual(values);
        const be = new Uint8Array(le.length);
        for (let i = 0; i < le.length; i += 2) {
          be[i] = le[i + 1] ?? 0;
          be[i + 1] = le[i] ?? 0;
        }
        expect(Array.from(int16FromBigEndian(be))).toEqual(values);
      }),
    );
  });

  it("chunk validation either accepts or throws a PcmFormatError naming a field", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer(),
        fc.nat({ max: 1 << 22 }),
        (sampleRate, channels, byteLength) => {
          try {
            const format = validateChunkFormat({
              sampleRate,
              channels,
              byteLength,
              maxBytes: 1 << 20,
            });
            expect(format.sampleRate).toBeGreaterThanOrEqual(8_000);
            expect(format.sampleRate).toBeLessThanOrEqual(48_000);
            expect(byteLength % (2 * format.channels)).toBe(0);
          } catch (error) {
            expect(error).toBeInstanceOf(PcmFormatError);
            expect(["sample_rate", "channels", "pcm_data"]).toContain(
              (error as PcmFormatError).field,
            );
          }
        },
      ),
    );
  });

  it("the byte-order normaliser never loses, adds or reorders samples, whatever it decides", () => {
    fc.assert(
      fc.property(
        samples,
        cuts,
        fc.constantFrom("little", "big", "auto"),
        (values, points, mode) => {
          const input = Int16Array.from(values);
          const bytes = int16ToLittleEndianBytes(input);
          const normaliser = createEndiannessNormaliser({
            mode,
            decisionBytes: 64,
            maxUndecidedBytes: 256,
          });
          const out: Int16Array[] = [];
          for (const part of split(
            bytes,
            points.map((p) => 2 * (p % (input.length + 1))),
          )) {
            out.push(...normaliser.push(part));
          }
          out.push(...normaliser.flush());
          const total = out.reduce((n, a) => n + a.length, 0);
          expect(total).toBe(input.length);
          const flat = out.flatMap((a) => Array.from(a));
          const order = normaliser.decided ?? "little";
          const expected = order === "little" ? values : Array.from(int16FromBigEndian(bytes));
          expect(flat).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("the drop-oldest queue never exceeds its capacity and accounts for every item", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 300 }),
        (weights, capacity) => {
          const queue = createDropOldestQueue<number>({ capacity, weigh: (w) => w });
          for (const w of weights) {
            queue.push(w);
            expect(queue.weight <= capacity || queue.size === 1).toBe(true);
          }
          const total = weights.reduce((a, b) => a + b, 0);
          expect(queue.weight + queue.droppedWeight).toBe(total);
          expect(queue.size + queue.droppedItems).toBe(weights.length);
        },
      ),
    );
  });
});
