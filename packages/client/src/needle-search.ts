/**
 * Where a piece of one PCM stream (a needle) occurs in another: exact copies and normalised
 * cross-correlation, for the stream splicer's junction search. Pure functions of
 * Int16 samples; frames, formats and receive times stay with the splicer.
 */

/** A needle quieter than this (peak, of 32768) is too close to silence to place. */
const QUIET_PEAK = 64;
/**
 * How many needles of the old stream's end are kept. When the last one cannot be found (a
 * packet one bridge lost is silence there, sound on the other), one further back stands
 * in: both bridges fill a loss with exactly its duration, so the samples after it still
 * count the same on both streams.
 */
export const TAIL_NEEDLES = 10;

/** A piece of one stream to look for in the other, and where it sits. */
export interface Needle {
  readonly samples: Int16Array;
  /**
   * Samples between the needle and the stream's end (`fromEnd`) or start: the junction is
   * that many samples past (or before) where the needle is found.
   */
  readonly offset: number;
}

/**
 * The needles of `pcm` that are sound, not silence: consecutive pieces of `length`, from
 * its end backwards (`fromEnd`) or from its start on; at most {@link TAIL_NEEDLES}.
 */
export function soundNeedles(pcm: Int16Array, length: number, fromEnd: boolean): Needle[] {
  const out: Needle[] = [];
  for (let k = 0; k < TAIL_NEEDLES && (k + 1) * length <= pcm.length; k++) {
    const start = fromEnd ? pcm.length - (k + 1) * length : k * length;
    const samples = pcm.subarray(start, start + length);
    if (!isQuiet(samples)) out.push({ samples, offset: k * length });
  }
  return out;
}

/**
 * The junction an exact copy of `needle` (from the old stream's end) puts in `haystack`,
 * nearest `expected` should the sound repeat itself exactly; only junctions the haystack
 * already reaches.
 */
export function nearestCopy(
  haystack: Int16Array,
  needle: Needle,
  expected: number,
  channels: number,
): number | undefined {
  const length = needle.samples.length;
  let nearest: number | undefined;
  for (let at = 0; at + length + needle.offset <= haystack.length; at += channels) {
    if (!equalAt(haystack, needle.samples, at)) continue;
    const junction = at + length + needle.offset;
    if (nearest === undefined || Math.abs(junction - expected) < Math.abs(nearest - expected)) {
      nearest = junction;
    }
  }
  return nearest;
}

function isQuiet(samples: Int16Array): boolean {
  for (const sample of samples) if (Math.abs(sample) >= QUIET_PEAK) return false;
  return true;
}

/** Whether `needle` occurs in `haystack` at `at`, sample for sample. */
export function equalAt(haystack: Int16Array, needle: Int16Array, at: number): boolean {
  if (at < 0 || at + needle.length > haystack.length) return false;
  for (let j = needle.length - 1; j >= 0; j--) {
    if (haystack[at + j] !== needle[j]) return false;
  }
  return true;
}

/** The normalised correlation of `needle` ending at each junction in [from, to]. */
export function correlations(
  haystack: Int16Array,
  needle: Int16Array,
  from: number,
  to: number,
  channels: number,
): { junction: number; score: number }[] {
  let needleEnergy = 0;
  for (const v of needle) needleEnergy += v * v;
  const out: { junction: number; score: number }[] = [];
  if (needleEnergy === 0) return out;
  for (let junction = from; junction <= to; junction += channels) {
    const at = junction - needle.length;
    if (at < 0 || junction > haystack.length) continue;
    let dot = 0;
    let energy = 0;
    for (let j = 0; j < needle.length; j++) {
      const h = haystack[at + j] as number;
      dot += h * (needle[j] as number);
      energy += h * h;
    }
    if (energy > 0) out.push({ junction, score: dot / Math.sqrt(needleEnergy * energy) });
  }
  return out;
}
