/** Deterministic test signals and byte encodings for the audio tests. */

/** A seeded PRNG (mulberry32) returning floats in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clamp16(value: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(value)));
}

/** A sine tone. */
export function tone(frequencyHz: number, sampleRate: number, count: number, amplitude = 12_000) {
  const samples = new Int16Array(count);
  for (let i = 0; i < count; i++) {
    samples[i] = clamp16(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
  }
  return samples;
}

/** A voiced-speech stand-in: decaying harmonics of a wobbling pitch, a syllable envelope, noise. */
export function speechLike(sampleRate: number, count: number, seed = 1) {
  const random = seededRandom(seed);
  const samples = new Int16Array(count);
  let phase = 0;
  for (let i = 0; i < count; i++) {
    const t = i / sampleRate;
    const pitch = 140 + 25 * Math.sin(2 * Math.PI * 3 * t);
    phase += (2 * Math.PI * pitch) / sampleRate;
    let value = 0;
    for (let harmonic = 1; harmonic * pitch < 3_500; harmonic++) {
      value += Math.sin(harmonic * phase) / harmonic;
    }
    const envelope = 0.35 + 0.65 * Math.abs(Math.sin(2 * Math.PI * 4 * t));
    samples[i] = clamp16(6_000 * envelope * value + 1_200 * (random() * 2 - 1));
  }
  return samples;
}

/** Uniform full-scale white noise. */
export function whiteNoise(count: number, seed = 2) {
  const random = seededRandom(seed);
  const samples = new Int16Array(count);
  for (let i = 0; i < count; i++) samples[i] = Math.floor(random() * 65536) - 32768;
  return samples;
}

/** Encodes samples as 16-bit PCM bytes in the given byte order. */
export function encode(samples: Int16Array, order: "little" | "big"): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(2 * i, samples[i] as number, order === "little");
  }
  return bytes;
}

/** Joins typed arrays end to end (one implementation, in @mentra/pcm). */
export { concatInt16 } from "@mentra/pcm";

/** Splits `length` into random positive sizes that are multiples of `step`. */
export function randomSplits(length: number, step: number, maxSize: number, seed = 3): number[] {
  const random = seededRandom(seed);
  const sizes: number[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(left, step * (1 + Math.floor(random() * (maxSize / step))));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/**
 * Index of the first sample where `actual` differs from `expected` (a length mismatch counts
 * at the shorter length), or -1 when they match; far faster than deep equality on big arrays.
 */
export function firstDifference(actual: Int16Array, expected: Int16Array): number {
  const length = Math.min(actual.length, expected.length);
  for (let i = 0; i < length; i++) if (actual[i] !== expected[i]) return i;
  return actual.length === expected.length ? -1 : length;
}
