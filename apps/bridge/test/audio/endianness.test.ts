import { describe, expect, it } from "vitest";
import { judgeByteOrder } from "../../src/audio/byte-order-judge.js";
import {
  type ByteOrder,
  createEndiannessNormaliser,
  type EndiannessDecisionStats,
  type EndiannessNormaliserOptions,
} from "../../src/audio/endianness.js";
import {
  concatInt16,
  encode,
  firstDifference,
  randomSplits,
  seededRandom,
  speechLike,
  tone,
  whiteNoise,
} from "./signals.js";

const RATE = 16_000;
const ORDERS: readonly ByteOrder[] = ["little", "big"];

/** Pushes `bytes` in the given sizes, flushes, and returns everything released. */
function run(
  bytes: Uint8Array,
  sizes: readonly number[] = [bytes.byteLength],
  options: Partial<EndiannessNormaliserOptions> = {},
) {
  const decisions: [ByteOrder, EndiannessDecisionStats][] = [];
  const normaliser = createEndiannessNormaliser({
    mode: "auto",
    onDecision: (order, stats) => decisions.push([order, stats]),
    ...options,
  });
  const released: Int16Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    released.push(...normaliser.push(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  const decidedBeforeFlush = normaliser.decided;
  released.push(...normaliser.flush());
  return { output: concatInt16(released), decisions, decidedBeforeFlush };
}

const signals = {
  "a 440 Hz tone": tone(440, RATE, RATE / 2),
  "a 1 kHz tone": tone(1_000, RATE, RATE / 2),
  "a quiet 440 Hz tone": tone(440, RATE, RATE / 2, 400),
  "a 1 kHz tone at 48 kHz": tone(1_000, 48_000, 48_000 / 2),
  "speech-like harmonics with noise": speechLike(RATE, RATE),
};

describe("createEndiannessNormaliser in auto mode", () => {
  for (const [name, samples] of Object.entries(signals)) {
    for (const order of ORDERS) {
      it(`detects ${order}-endian ${name} and returns the samples exactly`, () => {
        const { output, decisions, decidedBeforeFlush } = run(encode(samples, order));
        expect(decidedBeforeFlush).toBe(order);
        expect(decisions).toHaveLength(1);
        expect(decisions[0]?.[0]).toBe(order);
        expect(decisions[0]?.[1].reason).toBe("signal");
        expect(firstDifference(output, samples)).toBe(-1);
      });
    }
  }

  it("decides within the first window of clear audio", () => {
    const bytes = encode(speechLike(RATE, RATE), "big");
    const normaliser = createEndiannessNormaliser({ mode: "auto", decisionBytes: 3_200 });
    expect(normaliser.push(bytes.subarray(0, 3_198))).toEqual([]);
    expect(normaliser.decided).toBeUndefined();
    const released = normaliser.push(bytes.subarray(3_198, 3_200));
    expect(normaliser.decided).toBe("big");
    expect(released.map((part) => part.length)).toEqual([1_600]);
  });

  it("waits through leading silence and decides on the tone after it", () => {
    const samples = concatInt16([new Int16Array(RATE / 2), tone(1_000, RATE, RATE / 4)]);
    const { output, decisions } = run(encode(samples, "big"));
    expect(decisions.map(([order, stats]) => [order, stats.reason])).toEqual([["big", "signal"]]);
    expect(decisions[0]?.[1].bufferedBytes).toBeGreaterThan(RATE);
    expect(firstDifference(output, samples)).toBe(-1);
  });

  it("treats faint dither as silence rather than locking in", () => {
    const random = seededRandom(9);
    const dither = Int16Array.from({ length: RATE / 2 }, () => Math.round(random() * 6 - 3));
    const samples = concatInt16([dither, speechLike(RATE, RATE / 4)]);
    const { output, decisions } = run(encode(samples, "big"));
    expect(decisions[0]?.[0]).toBe("big");
    expect(firstDifference(output, samples)).toBe(-1);
  });

  it("settles on little-endian after maxUndecidedBytes of silence", () => {
    const silence = new Uint8Array(40_000);
    const { output, decisions, decidedBeforeFlush } = run(silence, randomSplits(40_000, 2, 700));
    expect(decidedBeforeFlush).toBe("little");
    expect(decisions.map(([order, stats]) => [order, stats.reason])).toEqual([
      ["little", "undecided-limit"],
    ]);
    expect(decisions[0]?.[1].bufferedBytes).toBeGreaterThanOrEqual(32_000);
    expect(decisions[0]?.[1].bufferedBytes).toBeLessThan(32_700);
    expect(output.length).toBe(20_000);
  });

  it("survives white noise, keeping every sample", () => {
    const noise = whiteNoise(RATE * 2);
    const bytes = encode(noise, "big");
    const { output, decisions } = run(bytes, randomSplits(bytes.byteLength, 2, 1_000));
    expect(decisions[0]?.[1].reason).toBe("undecided-limit");
    expect(output.length).toBe(noise.length);
  });

  it("gives the same output for random push sizes as for one push", () => {
    const samples = concatInt16([new Int16Array(3_000), speechLike(RATE, RATE)]);
    const bytes = encode(samples, "big");
    const whole = run(bytes).output;
    for (const seed of [1, 2, 3, 4]) {
      const sizes = randomSplits(bytes.byteLength, 2, 2_000, seed);
      const { output } = run(bytes, [0, ...sizes, 0]);
      expect(output.length).toBe(samples.length);
      expect(firstDifference(output, whole)).toBe(-1);
    }
    expect(firstDifference(whole, samples)).toBe(-1);
  });

  it("decides on the held-back tail when flushed early", () => {
    const samples = tone(440, RATE, 400);
    const { output, decisions, decidedBeforeFlush } = run(encode(samples, "big"));
    expect(decidedBeforeFlush).toBeUndefined();
    expect(decisions.map(([order, stats]) => [order, stats.reason])).toEqual([["big", "flush"]]);
    expect(firstDifference(output, samples)).toBe(-1);
  });

  it("flushes silence or nothing as little-endian", () => {
    expect(run(new Uint8Array(100)).decisions[0]?.[0]).toBe("little");
    const empty = run(new Uint8Array(0));
    expect(empty.decisions.map(([order, stats]) => [order, stats.bufferedBytes])).toEqual([
      ["little", 0],
    ]);
    expect(empty.output.length).toBe(0);
  });

  it("converts directly after deciding and flushes nothing more", () => {
    const normaliser = createEndiannessNormaliser({ mode: "auto" });
    normaliser.push(encode(tone(440, RATE, 1_600), "big"));
    expect(normaliser.decided).toBe("big");
    const [next] = normaliser.push(new Uint8Array([0x12, 0x34]));
    expect(Array.from(next ?? [])).toEqual([0x1234]);
    expect(normaliser.flush()).toEqual([]);
  });

  it("rejects odd-length pushes and bad window sizes", () => {
    const normaliser = createEndiannessNormaliser({ mode: "auto" });
    expect(() => normaliser.push(new Uint8Array(3))).toThrow(RangeError);
    expect(() => createEndiannessNormaliser({ mode: "auto", decisionBytes: 3 })).toThrow(
      RangeError,
    );
    expect(() =>
      createEndiannessNormaliser({ mode: "auto", decisionBytes: 400, maxUndecidedBytes: 200 }),
    ).toThrow(RangeError);
  });
});

describe("createEndiannessNormaliser in a fixed mode", () => {
  it("converts every push at once without calling onDecision", () => {
    for (const order of ORDERS) {
      const decisions: ByteOrder[] = [];
      const normaliser = createEndiannessNormaliser({
        mode: order,
        onDecision: (decided) => decisions.push(decided),
      });
      expect(normaliser.decided).toBe(order);
      const samples = whiteNoise(100);
      expect(normaliser.push(encode(samples, order))).toEqual([samples]);
      expect(normaliser.push(new Uint8Array(0))).toEqual([]);
      expect(normaliser.flush()).toEqual([]);
      expect(decisions).toEqual([]);
    }
  });
});

describe("judgeByteOrder", () => {
  it("scores the right reading smooth and the swapped one rough", () => {
    const judgement = judgeByteOrder(encode(tone(440, RATE, 1_600), "little"));
    expect(judgement.verdict).toBe("little");
    expect(judgement.littleRoughness).toBeLessThan(0.3);
    expect(judgement.bigRoughness).toBeGreaterThan(1);
  });

  it("calls all-zero and tiny windows silent", () => {
    expect(judgeByteOrder(new Uint8Array(3_200)).verdict).toBe("silent");
    expect(judgeByteOrder(new Uint8Array(2)).verdict).toBe("silent");
  });

  it("calls white noise unsure", () => {
    expect(judgeByteOrder(encode(whiteNoise(1_600), "little")).verdict).toBe("unsure");
  });
});
