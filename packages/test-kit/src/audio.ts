/** Samples of a sine tone as 16-bit PCM, interleaved when `channels` > 1. */
export function sineTone(options: {
  frequencyHz: number;
  sampleRate: number;
  durationMs: number;
  amplitude?: number;
  channels?: number;
}): Int16Array {
  const channels = options.channels ?? 1;
  const frames = Math.round((options.sampleRate * options.durationMs) / 1000);
  const amplitude = options.amplitude ?? 0.5;
  const out = new Int16Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(
      amplitude * 32767 * Math.sin((2 * Math.PI * options.frequencyHz * i) / options.sampleRate),
    );
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/** Power of one frequency in a mono signal (Goertzel). */
function goertzelPower(samples: Int16Array, sampleRate: number, frequencyHz: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * The dominant frequency of a mono signal between `minHz` and `maxHz`: a coarse
 * scan in 10 Hz steps, then a fine one in 0.5 Hz steps around the peak.
 */
export function dominantFrequency(
  samples: Int16Array,
  sampleRate: number,
  minHz = 50,
  maxHz = 4000,
): number {
  const peak = (from: number, to: number, step: number) => {
    let best = from;
    let bestPower = -1;
    for (let f = from; f <= to; f += step) {
      const p = goertzelPower(samples, sampleRate, f);
      if (p > bestPower) {
        bestPower = p;
        best = f;
      }
    }
    return best;
  };
  const coarse = peak(minHz, maxHz, 10);
  return peak(Math.max(minHz, coarse - 10), Math.min(maxHz, coarse + 10), 0.5);
}

/** Start offsets of the 10 ms windows whose RMS is above `threshold` (of full scale). */
export function loudWindows(samples: Int16Array, sampleRate: number, threshold: number): number[] {
  const window = Math.round(sampleRate / 100);
  const loud: number[] = [];
  for (let start = 0; start + window <= samples.length; start += window) {
    let sum = 0;
    for (let i = start; i < start + window; i++) sum += (samples[i] ?? 0) ** 2;
    if (Math.sqrt(sum / window) / 32768 > threshold) loud.push(start);
  }
  return loud;
}

/** Milliseconds of a mono signal that are audible (10 ms windows above `threshold` of full scale). */
export function audibleMs(samples: Int16Array, sampleRate: number, threshold = 0.05): number {
  return loudWindows(samples, sampleRate, threshold).length * 10;
}

/** The part of a mono signal from its first to its last audible 10 ms window. */
export function trimSilence(samples: Int16Array, sampleRate: number, threshold = 0.05): Int16Array {
  const loud = loudWindows(samples, sampleRate, threshold);
  const first = loud[0];
  const last = loud.at(-1);
  if (first === undefined || last === undefined) return new Int16Array(0);
  return samples.subarray(first, last + Math.round(sampleRate / 100));
}

/** What a recording of one tone holds: its pitch (silence trimmed off) and its audible length. */
export interface HeardTone {
  /** {@link dominantFrequency} of the recording from its first to its last audible window. */
  readonly frequencyHz: number;
  /** {@link audibleMs} of the recording. */
  readonly audibleMs: number;
}

/** {@link HeardTone} of a mono recording, at the default audibility threshold. */
export function heardTone(samples: Int16Array, sampleRate: number): HeardTone {
  return {
    frequencyHz: dominantFrequency(trimSilence(samples, sampleRate), sampleRate),
    audibleMs: audibleMs(samples, sampleRate),
  };
}

// Concatenation (`concatPcm`) and samples as 16-bit little-endian PCM bytes, as the bridge
// carries them (`leBytes`), under the names the tests know; one implementation, in @mentra/pcm.
export { concatInt16 as concatPcm, int16ToLittleEndianBytes as leBytes } from "@mentra/pcm";
