/**
 * The heuristic behind byte-order detection. Voice and tones are low-pass: consecutive
 * samples are close. Read with the wrong byte order, the low byte of each sample becomes its
 * high byte and the signal turns into loud wideband noise. So the interpretation whose
 * consecutive samples differ less, relative to its amplitude, is the right one.
 */

/** A byte order of 16-bit PCM. */
export type ByteOrder = "little" | "big";

/** What {@link judgeByteOrder} concluded from a window of bytes. */
export type ByteOrderVerdict = ByteOrder | "silent" | "unsure";

/** The verdict and the measurements it rests on. */
export interface ByteOrderJudgement {
  readonly verdict: ByteOrderVerdict;
  /** Mean |x[i] - x[i-1]| / mean |x[i]| read as little-endian (about 1.3 for white noise). */
  readonly littleRoughness: number;
  /** The same read as big-endian. */
  readonly bigRoughness: number;
  /** The quieter interpretation's mean absolute amplitude. */
  readonly level: number;
}

/** Thresholds of {@link judgeByteOrder}; the defaults suit speech at 8–48 kHz. */
export interface JudgeByteOrderOptions {
  /** Mean absolute amplitude below which a window counts as silence (default 64, ≈ −54 dBFS). */
  readonly silenceLevel?: number;
  /**
   * How much smoother the winner must be: its roughness at most this fraction of the
   * loser's (default 0.75). Closer calls, such as white noise, are "unsure".
   */
  readonly maxRoughnessRatio?: number;
}

const DEFAULT_SILENCE_LEVEL = 64;
const DEFAULT_MAX_ROUGHNESS_RATIO = 0.75;

/**
 * Judges the byte order of an even-length window of 16-bit PCM. A near-silent window is
 * "silent" (the swapped reading of silence is not trustworthy), and a window where neither
 * reading is clearly smoother, such as white noise, is "unsure". Content that is mostly above
 * a quarter of the sample rate would fool it; speech and ordinary tones do not.
 */
export function judgeByteOrder(
  window: Uint8Array,
  options: JudgeByteOrderOptions = {},
): ByteOrderJudgement {
  const silenceLevel = options.silenceLevel ?? DEFAULT_SILENCE_LEVEL;
  const maxRoughnessRatio = options.maxRoughnessRatio ?? DEFAULT_MAX_ROUGHNESS_RATIO;
  const sampleCount = window.byteLength >>> 1;
  let littleLevel = 0;
  let bigLevel = 0;
  let littleDiff = 0;
  let bigDiff = 0;
  let previousLittle = 0;
  let previousBig = 0;
  for (let i = 0; i < sampleCount; i++) {
    const first = window[2 * i] as number;
    const second = window[2 * i + 1] as number;
    // Shift up to bit 31 and back to sign-extend the 16-bit value.
    const little = ((first | (second << 8)) << 16) >> 16;
    const big = (((first << 8) | second) << 16) >> 16;
    littleLevel += Math.abs(little);
    bigLevel += Math.abs(big);
    if (i > 0) {
      littleDiff += Math.abs(little - previousLittle);
      bigDiff += Math.abs(big - previousBig);
    }
    previousLittle = little;
    previousBig = big;
  }
  const level = sampleCount === 0 ? 0 : Math.min(littleLevel, bigLevel) / sampleCount;
  const littleRoughness = littleLevel === 0 ? 0 : littleDiff / littleLevel;
  const bigRoughness = bigLevel === 0 ? 0 : bigDiff / bigLevel;
  const measurements = { littleRoughness, bigRoughness, level };
  if (sampleCount < 2 || level < silenceLevel) return { verdict: "silent", ...measurements };
  if (littleRoughness <= bigRoughness * maxRoughnessRatio) {
    return { verdict: "little", ...measurements };
  }
  if (bigRoughness <= littleRoughness * maxRoughnessRatio) {
    return { verdict: "big", ...measurements };
  }
  return { verdict: "unsure", ...measurements };
}
