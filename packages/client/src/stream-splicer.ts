import { concatInt16 } from "@mentra/pcm";
import {
  correlations,
  equalAt,
  type Needle,
  nearestCopy,
  soundNeedles,
  TAIL_NEEDLES,
} from "./needle-search.js";

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
  /** How much of the new stream is held while looking, default 2000 ms. */
  readonly searchMs?: number;
  /**
   * How far from where the receive times put it the junction may be, default 50 ms: the
   * two bridges receive the same audio at about the same time (their clocks and jitter
   * buffers differ by a few ms to a few tens).
   */
  readonly windowMs?: number;
}

const DEFAULTS = { needleMs: 20, minCorrelation: 0.9, searchMs: 2_000, windowMs: 50 } as const;
/** A correlation match must beat every other one this far away ... */
const UNIQUE_APART_MS = 2;
/** ... by this much, or it is ambiguous. */
const UNIQUE_MARGIN = 0.05;
/** How far past the old stream's end (by receive time) the new one must reach first. */
const CATCH_UP_MS = 10;
/**
 * Joins the room audio of two streams of one session, the old bridge's and the new one's,
 * during a handover, so the listener gets every sample once: no gap, no duplicate. Both
 * bridges receive the same device audio, each with its own delay. The old stream's audio
 * is handed out as it comes until the new stream delivers its first frame; from then on
 * both are held, and the splicer looks for where they overlap:
 * - the end of what was handed out, found in the new stream: the new stream goes on from
 *   just after it (what the old one delivered meanwhile is dropped, the new one has it);
 * - or the new stream's first samples, found in what the old one delivered since: that
 *   audio is handed out up to there, then the new stream.
 * The listener waits at most as long as the new stream lags behind the old one.
 */
export class StreamSplicer {
  private readonly options: Required<StreamSplicerOptions>;
  /** The last `needleMs` × {@link TAIL_NEEDLES} of audio handed out from the old stream, and their format. */
  private tail = new Int16Array(0);
  private format: { sampleRate: number; channels: number } | undefined;
  /** Receive time of the end of the audio handed out. */
  private tailEndMs: number | undefined;
  /** Set once the new stream delivered: the old stream's audio is held from then on. */
  private frozen = false;
  private heldOld: SpliceFrame[] = [];
  private heldNew: SpliceFrame[] = [];
  private heldNewSamples = 0;
  private result: SpliceMethod | undefined;

  constructor(options: StreamSplicerOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Whether content can still place the junction: the end of what the old stream handed
   * out is sound, not silence (a copy of it may yet arrive on the new stream).
   */
  get placeable(): boolean {
    return this.tailNeedles().length > 0;
  }

  /** How the streams were joined, once they are. */
  get method(): SpliceMethod | undefined {
    return this.result;
  }

  /** The old stream delivered `frame`: returns what to hand out now. Ignored once joined. */
  pushOld(frame: SpliceFrame): SpliceFrame[] {
    if (this.result !== undefined) return [];
    if (!this.frozen) {
      this.remember(frame);
      return [frame];
    }
    this.heldOld.push(frame);
    return this.tryJoin(true);
  }

  /** The new stream delivered `frame`: returns what to hand out now. */
  pushNew(frame: SpliceFrame): SpliceFrame[] {
    if (this.result !== undefined) return [frame];
    this.frozen = true;
    this.heldNew.push(frame);
    this.heldNewSamples += frame.samples.length;
    this.trimNew(frame);
    return this.tryJoin(true);
  }

  /**
   * Time is up: joins where content places it in what is held so far (without waiting for
   * more), else by receive time after what the old stream delivered. Returns what to hand
   * out now.
   */
  force(): SpliceFrame[] {
    if (this.result !== undefined) return [];
    const joined = this.tryJoin(false);
    if (this.result !== undefined) return joined;
    this.result = "timestamps";
    const old = this.heldOld;
    const last = old.at(-1);
    const end = last === undefined ? this.tailEndMs : last.timestampMs + last.durationMs;
    if (end === undefined) return this.newFrom(0);
    let offset = 0;
    for (const frame of this.heldNew) {
      if (frame.timestampMs + frame.durationMs <= end) {
        offset += frame.samples.length;
        continue;
      }
      const intoMs = Math.max(0, end - frame.timestampMs);
      const perMs = (frame.sampleRate * frame.channels) / 1000;
      offset += Math.min(frame.samples.length, Math.round(intoMs * perMs));
      break;
    }
    this.heldOld = [];
    return [...old, ...this.newFrom(offset)];
  }

  /**
   * The handover failed: returns the old stream's audio held so far, and passes the old
   * stream straight through from now on.
   */
  abandon(): SpliceFrame[] {
    const held = this.heldOld;
    this.heldOld = [];
    this.heldNew = [];
    this.heldNewSamples = 0;
    this.frozen = false;
    this.result = undefined;
    for (const frame of held) this.remember(frame);
    return held;
  }

  private remember(frame: SpliceFrame): void {
    if (this.format?.sampleRate !== frame.sampleRate || this.format.channels !== frame.channels) {
      this.tail = new Int16Array(0);
    }
    this.format = { sampleRate: frame.sampleRate, channels: frame.channels };
    const keep = this.needleLength(frame.sampleRate, frame.channels) * TAIL_NEEDLES;
    const joined = new Int16Array(Math.min(keep, this.tail.length + frame.samples.length));
    const fromFrame = Math.min(joined.length, frame.samples.length);
    joined.set(this.tail.subarray(this.tail.length - (joined.length - fromFrame)), 0);
    joined.set(frame.samples.subarray(frame.samples.length - fromFrame), joined.length - fromFrame);
    this.tail = joined;
    this.tailEndMs = frame.timestampMs + frame.durationMs;
  }

  private needleLength(sampleRate: number, channels: number): number {
    return Math.round((this.options.needleMs * sampleRate) / 1000) * channels;
  }

  /**
   * The needles of the old stream's end that are sound, not silence, last first: each with
   * how many samples of what was handed out follow it.
   */
  private tailNeedles(): Needle[] {
    const format = this.format;
    if (format === undefined) return [];
    return soundNeedles(this.tail, this.needleLength(format.sampleRate, format.channels), true);
  }

  /** Keeps at most `searchMs` plus a needle of the new stream: older audio cannot be the junction. */
  private trimNew(latest: SpliceFrame): void {
    const perMs = (latest.sampleRate * latest.channels) / 1000;
    const limit = Math.round((this.options.searchMs + this.options.needleMs) * perMs);
    while (
      this.heldNew.length > 1 &&
      this.heldNewSamples - (this.heldNew[0]?.samples.length ?? 0) >= limit
    ) {
      this.heldNewSamples -= this.heldNew.shift()?.samples.length ?? 0;
    }
  }

  /** Joins the streams if the held audio shows where; returns what to hand out then. */
  private tryJoin(waitForWindow: boolean): SpliceFrame[] {
    const format = this.format;
    if (format === undefined) return [];
    const sameFormat = (f: SpliceFrame) =>
      f.sampleRate === format.sampleRate && f.channels === format.channels;
    if (!this.heldNew.every(sameFormat) || !this.heldOld.every(sameFormat)) return [];
    const junction = this.findJunction(waitForWindow);
    if (junction !== undefined) {
      this.result = junction.method;
      this.heldOld = [];
      return this.newFrom(junction.sample);
    }
    // The new stream began after what was handed out: find its start in the old one's since
    // (or, if its first packet was lost, a needle a little later, as many samples on).
    const length = this.needleLength(format.sampleRate, format.channels);
    const head = soundNeedles(concat(this.heldNew), length, false)[0];
    if (head === undefined) return [];
    const old = concat(this.heldOld);
    for (let at = head.offset; at + length <= old.length; at += format.channels) {
      if (!equalAt(old, head.samples, at)) continue;
      this.result = "exact";
      const before = this.oldUpTo(at - head.offset);
      return [...before, ...this.newFrom(0)];
    }
    return [];
  }

  /**
   * The index in the new stream right after the end of what the old one handed out, if
   * content places it. Nothing is decided before the new stream reaches a little past
   * where the receive times put that end (unless `waitForWindow` is false). Then an exact
   * copy of that end settles it, wherever it is (two bridges' receive times may differ by
   * more than the window; should the sound repeat itself exactly, the copy nearest that
   * point wins). When that end is not found (one bridge lost the packet: silence there),
   * needles further back stand in, the junction as many samples past them. Otherwise a
   * correlation decides, but only near that point (±`windowMs`, all of it received) and
   * only if one match stands out: a voiced or steady sound matches itself a period away
   * almost as well.
   */
  private findJunction(
    waitForWindow: boolean,
  ): { sample: number; method: SpliceMethod } | undefined {
    const format = this.format;
    const end = this.tailEndMs;
    if (format === undefined || end === undefined || this.heldNew.length === 0) return undefined;
    const needles = this.tailNeedles();
    if (needles.length === 0) return undefined;
    const perMs = (format.sampleRate * format.channels) / 1000;
    const expected = this.indexAt(end, perMs);
    const caughtUp =
      !waitForWindow || this.heldNewSamples >= expected + Math.round(CATCH_UP_MS * perMs);
    // Before the new stream reaches that point, a copy found may be a periodic sound's
    // earlier repeat: the nearer one is still to come.
    if (!caughtUp) return undefined;
    const haystack = concat(this.heldNew);
    for (const needle of needles) {
      const exact = nearestCopy(haystack, needle, expected, format.channels);
      if (exact !== undefined) return { sample: exact, method: "exact" };
    }
    const needle = needles[0] as Needle;
    const length = needle.samples.length;
    const window = Math.round(this.options.windowMs * perMs);
    // Where the needle's own end would be: `needle.offset` samples before the junction.
    const from = Math.max(length, expected - needle.offset - window);
    const to = Math.min(haystack.length - needle.offset, expected - needle.offset + window);
    // A window the new stream does not cover yet could hide the rival that makes a match
    // ambiguous (a steady sound matches itself one packet away): wait for all of it.
    if (waitForWindow && to < expected - needle.offset + window) return undefined;
    const scores = correlations(haystack, needle.samples, from, to, format.channels);
    let best: { junction: number; score: number } | undefined;
    for (const candidate of scores) {
      if (best === undefined || candidate.score > best.score) best = candidate;
    }
    if (best === undefined || best.score < this.options.minCorrelation) return undefined;
    const apart = Math.round(UNIQUE_APART_MS * perMs);
    const { junction, score } = best;
    const rival = scores.some(
      (c) => Math.abs(c.junction - junction) >= apart && c.score > score - UNIQUE_MARGIN,
    );
    return rival ? undefined : { sample: junction + needle.offset, method: "correlated" };
  }

  /** The index in the new stream of the sample received at `timeMs` (clamped to it). */
  private indexAt(timeMs: number, perMs: number): number {
    let index = 0;
    for (const frame of this.heldNew) {
      if (timeMs <= frame.timestampMs) return index;
      if (timeMs < frame.timestampMs + frame.durationMs) {
        return index + Math.round((timeMs - frame.timestampMs) * perMs);
      }
      index += frame.samples.length;
    }
    return index;
  }

  /** The held old audio before sample `end` (the partial frame cut). */
  private oldUpTo(end: number): SpliceFrame[] {
    const out: SpliceFrame[] = [];
    let left = end;
    for (const frame of this.heldOld) {
      if (left <= 0) break;
      if (frame.samples.length <= left) {
        out.push(frame);
        left -= frame.samples.length;
        continue;
      }
      const samples = frame.samples.subarray(0, left);
      const perMs = (frame.sampleRate * frame.channels) / 1000;
      out.push({ ...frame, samples, durationMs: samples.length / perMs });
      left = 0;
    }
    this.heldOld = [];
    return out;
  }

  /** Hands out the held new audio from sample `offset` on (the partial frame re-stamped). */
  private newFrom(offset: number): SpliceFrame[] {
    const out: SpliceFrame[] = [];
    let skip = offset;
    for (const frame of this.heldNew) {
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
    this.heldNew = [];
    this.heldNewSamples = 0;
    return out;
  }
}

function concat(frames: readonly SpliceFrame[]): Int16Array {
  return concatInt16(frames.map((frame) => frame.samples));
}
