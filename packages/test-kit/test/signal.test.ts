import { describe, expect, it } from "vitest";
import { dominantFrequency, sineTone } from "../src/audio.js";
import {
  chirp,
  findOffset,
  findToneGlitches,
  heardExtent,
  indexOfSequence,
  sweepTrain,
} from "../src/signal.js";

/** A seeded generator (mulberry32), so the noise is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `signal` at `gain`, placed at `at` in `length` samples of uniform noise of `noiseAmplitude`. */
function recording(
  signal: Int16Array,
  options: { length: number; at: number; gain: number; noiseAmplitude: number; seed: number },
): Int16Array {
  const next = random(options.seed);
  const out = new Int16Array(options.length);
  for (let i = 0; i < out.length; i++) {
    const j = i - options.at;
    const s = j >= 0 && j < signal.length ? (signal[j] as number) * options.gain : 0;
    out[i] = Math.round(s + (next() * 2 - 1) * options.noiseAmplitude);
  }
  return out;
}

const withoutRange = (pcm: Int16Array, from: number, to: number) => {
  const out = new Int16Array(pcm.length - (to - from));
  out.set(pcm.subarray(0, from));
  out.set(pcm.subarray(to), from);
  return out;
};

describe("chirp", () => {
  it("sweeps from the start frequency to the end frequency at the given level", () => {
    const sweep = chirp({ sampleRate: 16_000, durationMs: 1000, fromHz: 200, toHz: 4000 });
    expect(sweep.length).toBe(16_000);
    expect(Math.max(...sweep)).toBeLessThanOrEqual(Math.round(0.5 * 32767));
    expect(Math.max(...sweep)).toBeGreaterThan(0.49 * 32767);
    // The first and last 50 ms sit around 295 Hz and 3905 Hz.
    const start = dominantFrequency(sweep.subarray(0, 800), 16_000, 100, 5000);
    const end = dominantFrequency(sweep.subarray(15_200), 16_000, 100, 5000);
    expect(Math.abs(start - 295)).toBeLessThan(60);
    expect(Math.abs(end - 3905)).toBeLessThan(60);
  });
});

describe("findOffset", () => {
  for (const sampleRate of [16_000, 48_000]) {
    it(`finds a 1 s chirp at the exact sample in 5 s of noisy recording at ${sampleRate} Hz, in well under a second`, () => {
      const reference = chirp({
        sampleRate,
        durationMs: 1000,
        fromHz: 200,
        toHz: 6000,
        amplitude: 0.8,
      });
      const at = Math.round(sampleRate * 1.7) + 13;
      // Noise about 13 dB below the chirp, and the chirp at 60 % of its level.
      const received = recording(reference, {
        length: sampleRate * 5,
        at,
        gain: 0.6,
        noiseAmplitude: 0.2 * 0.6 * 0.8 * 32767 * Math.sqrt(3),
        seed: sampleRate,
      });
      const started = performance.now();
      const found = findOffset(reference, received, sampleRate);
      const elapsedMs = performance.now() - started;
      console.log(
        `[signal] findOffset at ${sampleRate} Hz: ${elapsedMs.toFixed(1)} ms, offset ${found.offsetSamples}, peak ${found.peak.toFixed(3)}`,
      );
      expect(found.offsetSamples).toBe(at);
      expect(found.offsetMs).toBeCloseTo((at * 1000) / sampleRate, 6);
      expect(found.peak).toBeGreaterThan(0.8);
      expect(elapsedMs).toBeLessThan(1000);
    });
  }

  it("aligns a recording that starts late or stops early, as long as half the chirp is in it", () => {
    const sampleRate = 16_000;
    const reference = chirp({ sampleRate, durationMs: 500, fromHz: 300, toHz: 3000 });
    const late = reference.subarray(3000);
    const startedLate = findOffset(reference, late, sampleRate);
    expect(startedLate.offsetSamples).toBe(-3000);
    expect(startedLate.peak).toBeGreaterThan(0.999);
    const stoppedEarly = recording(reference, {
      length: 9000,
      at: 4000,
      gain: 1,
      noiseAmplitude: 0,
      seed: 1,
    });
    expect(findOffset(reference, stoppedEarly, sampleRate).offsetSamples).toBe(4000);
  });

  it("reports no match in silence and a weak one in unrelated noise", () => {
    const sampleRate = 16_000;
    const reference = chirp({ sampleRate, durationMs: 1000, fromHz: 200, toHz: 4000 });
    expect(findOffset(reference, new Int16Array(sampleRate * 3), sampleRate).peak).toBe(0);
    const noise = recording(new Int16Array(0), {
      length: sampleRate * 3,
      at: 0,
      gain: 0,
      noiseAmplitude: 10_000,
      seed: 7,
    });
    expect(findOffset(reference, noise, sampleRate).peak).toBeLessThan(0.1);
  });

  it("rejects a recording shorter than half the reference", () => {
    const reference = chirp({ sampleRate: 8000, durationMs: 100, fromHz: 200, toHz: 2000 });
    expect(() => findOffset(reference, new Int16Array(100), 8000)).toThrow(/shorter than half/);
  });
});

describe("findToneGlitches", () => {
  const sampleRate = 48_000;
  const tone = sineTone({ frequencyHz: 440, sampleRate, durationMs: 2000 });
  const tenMs = sampleRate / 100;
  const cut = 45_000;

  it("finds nothing in a clean tone, a noisy one, or one slightly off frequency", () => {
    const started = performance.now();
    expect(findToneGlitches(tone, sampleRate, 440)).toEqual([]);
    const elapsedMs = performance.now() - started;
    console.log(`[signal] findToneGlitches on 2 s at 48 kHz: ${elapsedMs.toFixed(1)} ms`);
    const noisy = recording(tone, {
      length: tone.length,
      at: 0,
      gain: 1,
      noiseAmplitude: 3000,
      seed: 3,
    });
    expect(findToneGlitches(noisy, sampleRate, 440)).toEqual([]);
    const detuned = sineTone({ frequencyHz: 440.4, sampleRate, durationMs: 2000 });
    expect(findToneGlitches(detuned, sampleRate, 440)).toEqual([]);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it("ignores the silence around the tone", () => {
    const padded = recording(tone, {
      length: tone.length + sampleRate,
      at: sampleRate / 2,
      gain: 1,
      noiseAmplitude: 20,
      seed: 4,
    });
    expect(findToneGlitches(padded, sampleRate, 440)).toEqual([]);
  });

  it("finds a removed 10 ms block where it was removed", () => {
    const glitches = findToneGlitches(withoutRange(tone, cut, cut + tenMs), sampleRate, 440);
    expect(glitches).toHaveLength(1);
    expect(glitches[0]?.kind).toBe("phase-jump");
    expect(Math.abs((glitches[0]?.atMs ?? 0) - (cut * 1000) / sampleRate)).toBeLessThanOrEqual(10);
  });

  it("finds a repeated 10 ms block", () => {
    const repeated = new Int16Array(tone.length + tenMs);
    repeated.set(tone.subarray(0, cut));
    repeated.set(tone.subarray(cut - tenMs), cut);
    const glitches = findToneGlitches(repeated, sampleRate, 440);
    expect(glitches.map((g) => g.kind)).toEqual(["phase-jump"]);
  });

  it("finds a removed 20 ms block at 16 kHz and a 20 ms dropout", () => {
    const rate = 16_000;
    const low = sineTone({ frequencyHz: 440, sampleRate: rate, durationMs: 1500 });
    expect(findToneGlitches(withoutRange(low, 8000, 8320), rate, 440)).toHaveLength(1);
    const dropped = low.slice();
    dropped.fill(0, 8000, 8320);
    expect(findToneGlitches(dropped, rate, 440).map((g) => g.kind)).toEqual(["dropout"]);
  });
});

describe("indexOfSequence", () => {
  const sent = Int16Array.from({ length: 4800 }, (_, i) => ((i * 7919) % 65536) - 32768);

  it("finds what was sent, sample for sample, inside what arrived", () => {
    const arrived = new Int16Array(10_000);
    arrived.set(sent, 1234);
    expect(indexOfSequence(arrived, sent)).toBe(1234);
    expect(indexOfSequence(arrived, sent, 1235)).toBe(-1);
  });

  it("misses it when one sample is dropped or repeated", () => {
    const dropped = withoutRange(sent, 2000, 2001);
    expect(indexOfSequence(dropped, sent)).toBe(-1);
    const repeated = new Int16Array(sent.length + 1);
    repeated.set(sent.subarray(0, 2001));
    repeated.set(sent.subarray(2000), 2001);
    expect(indexOfSequence(repeated, sent)).toBe(-1);
  });

  it("stays linear on long runs of silence", () => {
    const needle = new Int16Array(48_000);
    needle[needle.length - 1] = 1;
    const haystack = new Int16Array(480_000);
    haystack[haystack.length - 1] = 1;
    const started = performance.now();
    expect(indexOfSequence(haystack, needle)).toBe(480_000 - 48_000);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("heardExtent", () => {
  const rate = 16_000;
  const reference = sweepTrain({ sampleRate: rate, durationMs: 3_000, seed: 7 });
  /** 300 ms of silence, the reference's first `heardMs`, a fading repeat of its last 5 ms, silence. */
  const cutOff = (heard: Int16Array) => {
    const tail = heard.subarray(heard.length - 80);
    const out = new Int16Array(4_800 + heard.length + 480 + 3_200);
    out.set(heard, 4_800);
    for (let i = 0; i < 480; i++) {
      out[4_800 + heard.length + i] = Math.round((tail[i % 80] as number) * (1 - i / 480));
    }
    return out;
  };

  it("finds where a recording of the reference was cut off, to the sample, past a fading repeat", () => {
    for (const heardMs of [400, 1_234, 1_601, 2_500]) {
      const extent = heardExtent(reference, cutOff(reference.subarray(0, heardMs * 16)), rate);
      expect(extent.peak).toBeGreaterThan(0.9);
      expect(Math.abs(extent.endMs - heardMs)).toBeLessThanOrEqual(2.5);
    }
  });

  it("gives the position in the reference, not the recording's length, when time was stretched", () => {
    // A jitter buffer dropped 30 ms early on and repeated 10 ms later: 20 ms fewer samples.
    const squeezed = withoutRange(reference.subarray(0, 1_500 * 16), 3_200, 3_680);
    const stretched = new Int16Array(squeezed.length + 160);
    stretched.set(squeezed.subarray(0, 12_000));
    stretched.set(squeezed.subarray(11_840, 12_000), 12_000);
    stretched.set(squeezed.subarray(12_000), 12_160);
    const extent = heardExtent(reference, cutOff(stretched), rate);
    expect(Math.abs(extent.endMs - 1_500)).toBeLessThanOrEqual(2.5);
  });

  it("reports a weak match when the recording is not the reference", () => {
    const other = sineTone({ frequencyHz: 440, sampleRate: rate, durationMs: 1_000 });
    expect(heardExtent(reference, cutOff(other), rate).peak).toBeLessThan(0.5);
  });
});

describe("sweepTrain", () => {
  it("sweeps between 400 and 3000 Hz and no 100 ms stretch of it matches another", () => {
    const train = sweepTrain({ sampleRate: 16_000, durationMs: 2_000, seed: 3 });
    expect(train.length).toBe(32_000);
    const stretch = train.subarray(16_000, 17_600);
    const found = findOffset(stretch, train, 16_000);
    expect(found.offsetSamples).toBe(16_000);
    // Shifted by 5 ms or more either way (up to half a second), it no longer matches.
    let runnerUp = 0;
    for (let shift = 80; shift <= 8_000; shift++) {
      for (const at of [16_000 - shift, 16_000 + shift]) {
        let dot = 0;
        let a2 = 0;
        let b2 = 0;
        for (let i = 0; i < stretch.length; i++) {
          const a = stretch[i] as number;
          const b = train[at + i] as number;
          dot += a * b;
          a2 += a * a;
          b2 += b * b;
        }
        runnerUp = Math.max(runnerUp, dot / Math.sqrt(a2 * b2));
      }
    }
    expect(runnerUp).toBeLessThan(0.5);
    expect(dominantFrequency(train, 16_000)).toBeGreaterThan(400);
    expect(dominantFrequency(train, 16_000)).toBeLessThan(3_000);
  });
});
