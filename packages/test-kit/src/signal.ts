/**
 * Test signals and how to find them again after a trip through the bridge and
 * LiveKit: latency by cross-correlating a chirp, continuity by following the
 * phase of a tone, and bit-exact search for the lossless PCM path.
 */
import { crossCorrelate } from "./fft.js";

/** Options of {@link chirp}. */
export interface ChirpOptions {
  sampleRate: number;
  durationMs: number;
  /** Instantaneous frequency at the first sample. */
  fromHz: number;
  /** Instantaneous frequency at the end. */
  toHz: number;
  /** Peak level as a fraction of full scale, default 0.5. */
  amplitude?: number;
}

/**
 * A linear frequency sweep as mono 16-bit PCM. Its autocorrelation has one
 * sharp peak (about 1/(toHz - fromHz) wide), so {@link findOffset} locates it
 * to the sample even after a lossy codec.
 */
export function chirp(options: ChirpOptions): Int16Array {
  const { sampleRate, fromHz, toHz } = options;
  const n = Math.round((sampleRate * options.durationMs) / 1000);
  const amplitude = (options.amplitude ?? 0.5) * 32767;
  const sweepRate = (toHz - fromHz) / (n / sampleRate);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    out[i] = Math.round(amplitude * Math.sin(2 * Math.PI * (fromHz * t + (sweepRate * t * t) / 2)));
  }
  return out;
}

/** Options of {@link sweepTrain}. */
export interface SweepTrainOptions {
  sampleRate: number;
  durationMs: number;
  /** Seeds the sweep lengths, so a train is the same on every run. */
  seed?: number;
  /** Peak level as a fraction of full scale, default 0.5. */
  amplitude?: number;
}

/**
 * Sweeps up and down between 400 and 3000 Hz, each 16-32 ms long (seeded), phase
 * continuous, as mono 16-bit PCM. Unlike one slow chirp, no stretch of it looks like
 * another (the lengths never repeat in order) and no stretch can be extrapolated from
 * the one before (the frequency moves some 100 Hz per ms): a decoder concealing a lost
 * packet, which repeats the last pitch period, stops matching within a few ms. That
 * makes it the signal to find where a recording was cut off, see {@link heardExtent}.
 */
export function sweepTrain(options: SweepTrainOptions): Int16Array {
  const { sampleRate } = options;
  const n = Math.round((sampleRate * options.durationMs) / 1000);
  const amplitude = (options.amplitude ?? 0.5) * 32767;
  const out = new Int16Array(n);
  let state = (options.seed ?? 1) >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
  let phase = 0;
  let up = true;
  for (let i = 0; i < n; ) {
    const length = Math.round(sampleRate * (0.016 + 0.016 * next()));
    for (let j = 0; j < length && i < n; j++, i++) {
      const along = j / length;
      const hz = up ? 400 + 2_600 * along : 3_000 - 2_600 * along;
      phase += (2 * Math.PI * hz) / sampleRate;
      out[i] = Math.round(amplitude * Math.sin(phase));
    }
    up = !up;
  }
  return out;
}

/** Where a reference signal sits in a recording. */
export interface Alignment {
  /** received[i + offsetSamples] lines up with reference[i]; negative when the recording starts late. */
  offsetSamples: number;
  offsetMs: number;
  /** Normalised cross-correlation at that offset: 1 is an exact (scaled) copy, 0 nothing alike. */
  peak: number;
}

function prefixEnergy(samples: ArrayLike<number>): Float64Array {
  const out = new Float64Array(samples.length + 1);
  for (let i = 0; i < samples.length; i++)
    out[i + 1] = (out[i] as number) + (samples[i] as number) ** 2;
  return out;
}

/**
 * Finds `reference` in `received` (both mono, at `sampleRate`) by FFT
 * cross-correlation, normalised by the energy of both signals over the part
 * that overlaps, so a loud stretch elsewhere in the recording cannot win. At
 * least half of the reference must lie inside the recording, which lets a
 * recording cut short still be aligned. A silent recording gives peak 0.
 */
export function findOffset(
  reference: Int16Array,
  received: Int16Array,
  sampleRate: number,
): Alignment {
  const refLength = reference.length;
  const minOverlap = Math.ceil(refLength / 2);
  if (refLength === 0) throw new RangeError("findOffset needs a non-empty reference");
  if (received.length < minOverlap) {
    throw new RangeError(
      `the recording (${received.length} samples) is shorter than half the reference (${refLength} samples)`,
    );
  }
  const correlation = crossCorrelate(received, reference);
  const n = correlation.length;
  const refEnergy = prefixEnergy(reference);
  const recEnergy = prefixEnergy(received);
  let bestLag = 0;
  let bestScore = 0;
  for (let lag = minOverlap - refLength; lag <= received.length - minOverlap; lag++) {
    const from = Math.max(0, -lag);
    const to = Math.min(refLength, received.length - lag);
    const energy =
      ((refEnergy[to] as number) - (refEnergy[from] as number)) *
      ((recEnergy[to + lag] as number) - (recEnergy[from + lag] as number));
    if (energy <= 0) continue;
    const score = (correlation[(lag + n) % n] as number) / Math.sqrt(energy);
    if (score > bestScore) {
      bestScore = score;
      bestLag = lag;
    }
  }
  return {
    offsetSamples: bestLag,
    offsetMs: (bestLag * 1000) / sampleRate,
    peak: Math.min(1, bestScore),
  };
}

/** A break in a tone: a phase jump (samples removed or repeated) or a dropout (level fell away). */
export interface ToneGlitch {
  kind: "phase-jump" | "dropout";
  /** Where in the analysed samples it happened, to within one analysis window. */
  atMs: number;
}

/** Options of {@link findToneGlitches}. */
export interface ToneGlitchOptions {
  /** Smallest phase step counted as a glitch, default 0.3 rad (17°). */
  minJumpRad?: number;
  /** A window below this fraction of the median level is a dropout, default 0.5. */
  dropoutLevel?: number;
}

const wrap = (rad: number) => rad - 2 * Math.PI * Math.round(rad / (2 * Math.PI));

/**
 * Finds the places where a received pure tone of `frequencyHz` is not
 * continuous. It measures the tone's phase in short Hann windows (5 ms, or 2.5
 * periods for low tones); a steady tone keeps a steady phase (a slight
 * frequency error only makes it drift, which is removed), while samples
 * removed or repeated make it jump by 2π·f·gap. Codecs and resamplers keep
 * the phase of a tone, so this works after Opus. A gap that is a whole number
 * of periods cannot show: at 440 Hz a 10 or 20 ms gap (an Opus frame) moves the
 * phase by 144° or 72°, but a 25 ms gap (11 periods) is invisible.
 * Silence before and after the tone is ignored; pass the tone alone (see
 * `trimSilence`) for the clearest result.
 */
export function findToneGlitches(
  samples: Int16Array,
  sampleRate: number,
  frequencyHz: number,
  options: ToneGlitchOptions = {},
): ToneGlitch[] {
  const minJumpRad = options.minJumpRad ?? 0.3;
  const window = Math.round(sampleRate * Math.max(0.005, 2.5 / frequencyHz));
  const count = Math.floor(samples.length / window);
  const omega = (2 * Math.PI * frequencyHz) / sampleRate;
  const hann = Float64Array.from(
    { length: window },
    (_, m) => 0.5 - 0.5 * Math.cos((2 * Math.PI * m) / window),
  );
  const level = new Float64Array(count);
  const phase = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    let re = 0;
    let im = 0;
    for (let m = 0; m < window; m++) {
      const i = k * window + m;
      const x = (samples[i] as number) * (hann[m] as number);
      re += x * Math.cos(omega * i);
      im -= x * Math.sin(omega * i);
    }
    level[k] = Math.hypot(re, im);
    phase[k] = Math.atan2(im, re);
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  // The tone's level: the median over windows within 20 dB of the loudest, so
  // silence around the tone does not drag it down.
  const loudest = Math.max(0, ...level);
  const loudEnough =
    median([...level].filter((l) => l >= loudest / 10)) * (options.dropoutLevel ?? 0.5);
  const present = Array.from(level, (l) => l >= loudEnough && l > 0);
  const first = present.indexOf(true);
  const last = present.lastIndexOf(true);
  const atMs = (k: number) => ((k + 0.5) * window * 1000) / sampleRate;
  const glitches: ToneGlitch[] = [];
  if (first < 0) return glitches;

  for (let k = first + 1; k < last; k++) {
    if (!present[k] && present[k - 1]) glitches.push({ kind: "dropout", atMs: atMs(k) });
  }
  // Phase advance across two windows, measured around every window whose
  // neighbours both hold the tone; a glitch inside window k shows in k-1..k+1.
  const steps = new Map<number, number>();
  for (let k = first + 1; k < last; k++) {
    if (present[k - 1] && present[k] && present[k + 1]) {
      steps.set(k, wrap((phase[k + 1] as number) - (phase[k - 1] as number)));
    }
  }
  const drift = median([...steps.values()]);
  let inJump = false;
  for (let k = first + 1; k < last; k++) {
    const step = steps.get(k);
    const jumped = step !== undefined && Math.abs(wrap(step - drift)) > minJumpRad;
    if (jumped && !inJump) glitches.push({ kind: "phase-jump", atMs: atMs(k) });
    inJump = jumped;
  }
  // One event seen twice (a dropout whose edges also shift the phase) is one glitch.
  const windowMs = (window * 1000) / sampleRate;
  const merged: ToneGlitch[] = [];
  for (const glitch of glitches.sort((a, b) => a.atMs - b.atMs)) {
    const previous = merged.at(-1);
    if (previous && glitch.atMs - previous.atMs <= 2 * windowMs) {
      if (glitch.kind === "dropout") previous.kind = "dropout";
    } else {
      merged.push(glitch);
    }
  }
  return merged;
}

/**
 * The first index at or after `fromIndex` where `needle` occurs in `haystack`
 * sample for sample, or -1: the check for the lossless PCM path, where what
 * arrives must contain what was sent without a gap or a duplicate.
 * Knuth-Morris-Pratt, so long runs of silence cost no more than anything else.
 */
export function indexOfSequence(
  haystack: ArrayLike<number>,
  needle: ArrayLike<number>,
  fromIndex = 0,
): number {
  if (needle.length === 0) return Math.min(Math.max(0, fromIndex), haystack.length);
  const fallback = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = fallback[k - 1] as number;
    if (needle[i] === needle[k]) k++;
    fallback[i] = k;
  }
  for (let i = Math.max(0, fromIndex), k = 0; i < haystack.length; i++) {
    while (k > 0 && haystack[i] !== needle[k]) k = fallback[k - 1] as number;
    if (haystack[i] === needle[k]) k++;
    if (k === needle.length) return i - needle.length + 1;
  }
  return -1;
}

/** How far into a reference signal a recording of it got. */
export interface HeardExtent {
  /** Position in the reference, in ms, of the last sample the recording holds of it. */
  endMs: number;
  /** Normalised cross-correlation of the recording's last stretch against the reference. */
  peak: number;
}

/**
 * How much of `reference` a recording heard before it was cut off: the position in the
 * reference of the last genuine sample, found by content rather than by counting
 * samples, so a receiver that stretched or squeezed time earlier on (a jitter buffer)
 * does not move it. The recording's last loud stretch (`segmentMs`, default 200 ms) is
 * located in the reference by cross-correlation; from there both are compared in 2.5 ms
 * windows, and the first window that no longer matches (a decoder's concealment tail
 * repeats old audio, which does not) ends what was heard. The reference must not repeat
 * itself within that stretch nor be predictable from its past: see {@link sweepTrain}.
 */
export function heardExtent(
  reference: Int16Array,
  recording: Int16Array,
  sampleRate: number,
  options: { segmentMs?: number; loudFraction?: number } = {},
): HeardExtent {
  let peakLevel = 0;
  for (const sample of recording) peakLevel = Math.max(peakLevel, Math.abs(sample));
  const loud = (options.loudFraction ?? 0.25) * peakLevel;
  let lastLoud = recording.length - 1;
  while (lastLoud > 0 && Math.abs(recording[lastLoud] as number) < loud) lastLoud--;
  const segment = Math.round(((options.segmentMs ?? 200) * sampleRate) / 1000);
  const guard = Math.round(0.01 * sampleRate);
  const from = Math.max(0, lastLoud - segment);
  const alignment = findOffset(recording.subarray(from, lastLoud - guard), reference, sampleRate);
  // recording[k] lines up with reference[k + shift].
  const shift = alignment.offsetSamples - from;
  const window = Math.max(1, Math.round(0.0025 * sampleRate));
  let end = from;
  for (let k = from; k + window <= recording.length; k += window) {
    const r = k + shift;
    if (r < 0 || r + window > reference.length) break;
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    for (let m = 0; m < window; m++) {
      const a = recording[k + m] as number;
      const b = reference[r + m] as number;
      dot += a * b;
      a2 += a * a;
      b2 += b * b;
    }
    if (a2 === 0 || b2 === 0 || dot / Math.sqrt(a2 * b2) < 0.5) break;
    end = k + window;
  }
  return { endMs: ((end + shift) * 1000) / sampleRate, peak: alignment.peak };
}
