// The pitch a listening device hears of the cloud's 300 Hz TTS tone: per utterance, zero
// crossings over the time from its first to its last crossing. Audio played on time
// gives 300 Hz; frames the AudioSource had to invent (silence between frames: the tone
// stretched) lower it, as the room hears it.

import { loudWindows } from "@mentra/test-kit";

/** The tone the listening users' cloud sessions send as TTS. */
export const TTS_TONE_HZ = 300;

/** What one recording of utterances held. */
export interface PitchReading {
  /** Whole utterances measured (those cut by the recording's edges are left out). */
  readonly utterances: number;
  /** Lowest and highest pitch over them (Hz); 0 when none was measured. */
  readonly lowestHz: number;
  readonly highestHz: number;
}

/** Of full scale: below it a 10 ms window is silence. */
const AUDIBLE = 0.02;
/** A pause this long ends an utterance (the bench pauses 500 ms between them). */
const PAUSE_MS = 200;

/** Each utterance's [first, last) sample: runs of audible 10 ms windows split by pauses. */
function utterances(samples: Int16Array, sampleRate: number): [number, number][] {
  const window = Math.round(sampleRate / 100);
  const runs: [number, number][] = [];
  let start = -1;
  let lastLoud = -1;
  for (const at of loudWindows(samples, sampleRate, AUDIBLE)) {
    if (start >= 0 && at - (lastLoud + window) >= (sampleRate * PAUSE_MS) / 1000) {
      runs.push([start, lastLoud + window]);
      start = -1;
    }
    if (start < 0) start = at;
    lastLoud = at;
  }
  if (start >= 0) runs.push([start, lastLoud + window]);
  return runs;
}

/**
 * The pitch of a run from its sign changes: half-periods between the first and the last one,
 * over the time between them (so the run's edges, rounded to 10 ms windows, do not count).
 * What stays within `deadband` of zero (codec noise) changes no sign.
 */
function crossingPitch(samples: Int16Array, sampleRate: number, deadband: number): number {
  let crossings = 0;
  let first = -1;
  let last = -1;
  let sign = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i] ?? 0;
    const s = x > deadband ? 1 : x < -deadband ? -1 : 0;
    if (s === 0 || s === sign) continue;
    if (sign !== 0) {
      crossings++;
      if (first < 0) first = i;
      last = i;
    }
    sign = s;
  }
  if (crossings < 2) return 0;
  return (crossings - 1) / 2 / ((last - first) / sampleRate);
}

/** Several readings as one: utterances summed, the extremes of those that measured any. */
export function combineReadings(readings: readonly PitchReading[]): PitchReading {
  const measured = readings.filter((r) => r.utterances > 0);
  return {
    utterances: measured.reduce((n, r) => n + r.utterances, 0),
    lowestHz: measured.length > 0 ? Math.min(...measured.map((r) => r.lowestHz)) : 0,
    highestHz: measured.length > 0 ? Math.max(...measured.map((r) => r.highestHz)) : 0,
  };
}

/**
 * The pitch of each whole utterance in a mono recording: the first and last runs are left
 * out (the recording may have cut them), as is any run shorter than `minUtteranceMs`.
 */
export function utterancePitch(
  samples: Int16Array,
  sampleRate: number,
  minUtteranceMs = 1_000,
): PitchReading {
  const whole = utterances(samples, sampleRate)
    .slice(1, -1)
    .filter(([from, to]) => ((to - from) * 1000) / sampleRate >= minUtteranceMs);
  const pitches = whole.map(([from, to]) =>
    crossingPitch(samples.subarray(from, to), sampleRate, 32768 * AUDIBLE),
  );
  const round = (hz: number) => Math.round(hz * 10) / 10;
  return {
    utterances: pitches.length,
    lowestHz: pitches.length > 0 ? round(Math.min(...pitches)) : 0,
    highestHz: pitches.length > 0 ? round(Math.max(...pitches)) : 0,
  };
}
