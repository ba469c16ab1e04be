/** One piece of room audio as the session hands it out (mono or interleaved PCM). */
export interface SpliceFrame {
  readonly samples: Int16Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** When the bridge received the frame's first sample (ms since the epoch). */
  readonly timestampMs: number;
  readonly durationMs: number;
}

/** How the new stream was joined to the old one. */
export type SpliceMethod =
  /** The old stream's last samples were found, bit for bit, in the new one (data packets). */
  | "exact"
  /** Found by normalised cross-correlation (a microphone track both bridges decoded). */
  | "correlated"
  /** Content could not place it (silence, a stream that ended long before): by receive time. */
  | "timestamps";

/** Options of {@link StreamSplicer}. */
export interface StreamSplicerOptions {
  /** How much of the old stream's end is looked for in the new one, default 20 ms. */
  readonly needleMs?: number;
  /** Normalised correlation that counts as a match, default 0.9. */
  readonly minCorrelation?: number;
  /** How much of the new stream is held while looking, default 1000 ms. */
  readonly searchMs?: number;
  /**
   * How far from where the receive times put it the junction may be, default 50 ms: the
   * two bridges receive the same audio at about the same time (their clocks and jitter
   * buffers differ by a few ms to a few tens).
   */
  readonly windowMs?: number;
}

const DEFAULTS = { needleMs: 20, minCorrelation: 0.9, searchMs: 1_000, windowMs: 50 } as const;
/** A needle quieter than this (peak, of 32768) is too close to silence to place. */
const QUIET_PEAK = 64;

/**
 * Joins the room audio of two streams of one session, the old bridge's and the new one's,
 * during a handover, so the listener gets every sample once: no gap, no duplicate. Both
 * bridges receive the same device audio; the new one starts later and, for a while, both
 * deliver it. The old stream's audio is handed out as it comes; the new stream's is held
 * until the old one's latest samples are found in it, and from there on only the new
 * stream's audio, from just after those samples, is handed out.
 */
export class StreamSplicer {
  private readonly options: Required<StreamSplicerOptions>;
  /** The old stream's latest samples (its last `needleMs` at most), and their format. */
  private oldTail = new Int16Array(0);
  private oldFormat: { sampleRate: number; channels: number } | undefined;
  private oldEndMs: number | undefined;
  private held: SpliceFrame[] = [];
  private heldSamples = 0;
  private result: SpliceMethod | undefined;

  constructor(options: StreamSplicerOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** How the streams were joined, once they are. */
  get method(): SpliceMethod | undefined {
    return this.result;
  }

  /** The old stream delivered (and the session handed out) `frame`. Ignored once joined. */
  pushOld(frame: SpliceFrame): void {
    if (this.result !== undefined) return;
    const format = this.oldFormat;
    if (format === undefined || format.sampleRate !== frame.sampleRate) {
      this.oldTail = new Int16Array(0);
    }
    this.oldFormat = { sampleRate: frame.sampleRate, channels: frame.channels };
    const keep = this.needleLength(frame.sampleRate, frame.channels);
    const joined = new Int16Array(Math.min(keep, this.oldTail.length + frame.samples.length));
    const fromFrame = Math.min(joined.length, frame.samples.length);
    joined.set(this.oldTail.subarray(this.oldTail.length - (joined.length - fromFrame)), 0);
    joined.set(frame.samples.subarray(frame.samples.length - fromFrame), joined.length - fromFrame);
    this.oldTail = joined;
    this.oldEndMs = frame.timestampMs + frame.durationMs;
  }

  /**
   * The new stream delivered `frame`: returns what to hand out now. Nothing while the
   * junction is not found; the held audio from the junction on when it is; the frame
   * itself once joined.
   */
  pushNew(frame: SpliceFrame): SpliceFrame[] {
    if (this.result !== undefined) return [frame];
    this.held.push(frame);
    this.heldSamples += frame.samples.length;
    this.trimHeld(frame);
    const junction = this.findJunction();
    if (junction === undefined) return [];
    this.result = junction.method;
    return this.releaseFrom(junction.sample);
  }

  /** Gives up on content: joins by receive time. Returns what to hand out now. */
  force(): SpliceFrame[] {
    if (this.result !== undefined) return [];
    this.result = "timestamps";
    const end = this.oldEndMs;
    if (end === undefined) return this.releaseFrom(0);
    let offset = 0;
    for (const frame of this.held) {
      if (frame.timestampMs + frame.durationMs <= end) {
        offset += frame.samples.length;
        continue;
      }
      const intoMs = Math.max(0, end - frame.timestampMs);
      const perMs = (frame.sampleRate * frame.channels) / 1000;
      offset += Math.min(frame.samples.length, Math.round(intoMs * perMs));
      break;
    }
    return this.releaseFrom(offset);
  }

  private needleLength(sampleRate: number, channels: number): number {
    return Math.round((this.options.needleMs * sampleRate) / 1000) * channels;
  }

  /** Keeps at most `searchMs` plus a needle of held audio: older audio cannot be the junction. */
  private trimHeld(latest: SpliceFrame): void {
    const perMs = (latest.sampleRate * latest.channels) / 1000;
    const limit = Math.round((this.options.searchMs + this.options.needleMs) * perMs);
    while (
      this.held.length > 1 &&
      this.heldSamples - (this.held[0]?.samples.length ?? 0) >= limit
    ) {
      this.heldSamples -= this.held.shift()?.samples.length ?? 0;
    }
  }

  /**
   * The held-audio index right after the old stream's last sample, if it can be placed.
   * Content decides, but only near where the receive times put it (±`windowMs`): a voiced
   * or synthetic sound repeats itself every period, and only the right repeat will do.
   * Nothing is decided before the new stream holds audio past that window.
   */
  private findJunction(): { sample: number; method: SpliceMethod } | undefined {
    const needle = this.oldTail;
    const format = this.oldFormat;
    const end = this.oldEndMs;
    if (format === undefined || end === undefined || this.held.length === 0) return undefined;
    if (needle.length < this.needleLength(format.sampleRate, format.channels)) return undefined;
    if (this.held.some((f) => f.sampleRate !== format.sampleRate || f.channels !== format.channels))
      return undefined;
    let peak = 0;
    for (const sample of needle) peak = Math.max(peak, Math.abs(sample));
    if (peak < QUIET_PEAK) return undefined;
    const perMs = (format.sampleRate * format.channels) / 1000;
    const window = Math.round(this.options.windowMs * perMs);
    const expected = this.indexAt(end, perMs);
    if (this.heldSamples < expected + window) return undefined;
    const haystack = concat(this.held);
    // Candidate junctions (the index after the needle's last sample), frame-aligned.
    const from = Math.max(needle.length, expected - window);
    const to = Math.min(haystack.length, expected + window);
    let exact: number | undefined;
    for (let junction = from; junction <= to; junction += format.channels) {
      if (!equalAt(haystack, needle, junction - needle.length)) continue;
      if (exact === undefined || Math.abs(junction - expected) < Math.abs(exact - expected)) {
        exact = junction;
      }
    }
    if (exact !== undefined) return { sample: exact, method: "exact" };
    const best = bestCorrelation(haystack, needle, from, to, format.channels);
    if (best !== undefined && best.score >= this.options.minCorrelation) {
      return { sample: best.junction, method: "correlated" };
    }
    return undefined;
  }

  /** The held-audio index of the sample received at `timeMs` (clamped to the held audio). */
  private indexAt(timeMs: number, perMs: number): number {
    let index = 0;
    for (const frame of this.held) {
      if (timeMs <= frame.timestampMs) return index;
      if (timeMs < frame.timestampMs + frame.durationMs) {
        return index + Math.round((timeMs - frame.timestampMs) * perMs);
      }
      index += frame.samples.length;
    }
    return index;
  }

  /** Hands out the held audio from sample `offset` on (the partial frame re-stamped). */
  private releaseFrom(offset: number): SpliceFrame[] {
    const out: SpliceFrame[] = [];
    let skip = offset;
    for (const frame of this.held) {
      if (skip >= frame.samples.length) {
        skip -= frame.samples.length;
        continue;
      }
      if (skip === 0) {
        out.push(frame);
        continue;
      }
      const samples = frame.samples.subarray(skip);
      const perMs = (frame.sampleRate * frame.channels) / 1000;
      out.push({
        ...frame,
        samples,
        timestampMs: frame.timestampMs + skip / perMs,
        durationMs: samples.length / perMs,
      });
      skip = 0;
    }
    this.held = [];
    this.heldSamples = 0;
    return out;
  }
}

function concat(frames: readonly SpliceFrame[]): Int16Array {
  const total = frames.reduce((n, f) => n + f.samples.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const frame of frames) {
    out.set(frame.samples, at);
    at += frame.samples.length;
  }
  return out;
}

/** Whether `needle` occurs in `haystack` at `at`, sample for sample. */
function equalAt(haystack: Int16Array, needle: Int16Array, at: number): boolean {
  if (at < 0 || at + needle.length > haystack.length) return false;
  for (let j = needle.length - 1; j >= 0; j--) {
    if (haystack[at + j] !== needle[j]) return false;
  }
  return true;
}

/** The junction in [from, to] after which `needle` correlates best with `haystack`. */
function bestCorrelation(
  haystack: Int16Array,
  needle: Int16Array,
  from: number,
  to: number,
  channels: number,
): { junction: number; score: number } | undefined {
  let needleEnergy = 0;
  for (const v of needle) needleEnergy += v * v;
  if (needleEnergy === 0) return undefined;
  let best: { junction: number; score: number } | undefined;
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
    if (energy === 0) continue;
    const score = dot / Math.sqrt(needleEnergy * energy);
    if (best === undefined || score > best.score) best = { junction, score };
  }
  return best;
}
