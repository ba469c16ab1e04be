/**
 * Pure helpers for 16-bit PCM as the wire carries it: format validation and downmixing.
 * Byte-order conversion lives in @mentra/pcm (shared with the client and the tests) and is
 * re-exported here for the bridge's handlers.
 */

import { BYTES_PER_SAMPLE } from "@mentra/pcm";

export {
  int16FromBigEndian,
  int16FromLittleEndian,
  int16ToLittleEndianBytes,
} from "@mentra/pcm";

/** The wire field a {@link PcmFormatError} is about, spelled as in the proto. */
export type PcmField = "sample_rate" | "channels" | "pcm_data" | "track_id";

/** A chunk of PCM whose format the bridge cannot accept; `field` names the culprit. */
export class PcmFormatError extends Error {
  override readonly name = "PcmFormatError";

  constructor(
    /** The wire field that is wrong. */
    readonly field: PcmField,
    message: string,
  ) {
    super(message);
  }
}

/** The sample rate the contract means by `sample_rate: 0`. */
export const DEFAULT_SAMPLE_RATE = 16_000;
/** The lowest sample rate a chunk may declare. */
export const MIN_SAMPLE_RATE = 8_000;
/** The highest sample rate a chunk may declare. */
export const MAX_SAMPLE_RATE = 48_000;

/** What {@link validateChunkFormat} checks: the declared format and the payload size. */
export interface ChunkFormatInput {
  /** Declared `sample_rate`; 0 means {@link DEFAULT_SAMPLE_RATE}. */
  readonly sampleRate: number;
  /** Declared `channels`; 0 means mono. */
  readonly channels: number;
  /** Length of `pcm_data` in bytes. */
  readonly byteLength: number;
  /** The largest `pcm_data` the bridge accepts in one chunk. */
  readonly maxBytes: number;
}

/** A chunk format with the contract's zero defaults filled in. */
export interface ChunkFormat {
  readonly sampleRate: number;
  readonly channels: 1 | 2;
}

/**
 * Checks a PCM chunk's declared format and payload length against the contract and returns
 * the format with "0 means 16000 Hz / mono" applied. Throws {@link PcmFormatError}.
 */
export function validateChunkFormat(input: ChunkFormatInput): ChunkFormat {
  const sampleRate = input.sampleRate === 0 ? DEFAULT_SAMPLE_RATE : input.sampleRate;
  if (
    !Number.isInteger(sampleRate) ||
    sampleRate < MIN_SAMPLE_RATE ||
    sampleRate > MAX_SAMPLE_RATE
  ) {
    throw new PcmFormatError(
      "sample_rate",
      `sample_rate ${input.sampleRate} is not supported: use ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz, or 0 for ${DEFAULT_SAMPLE_RATE}`,
    );
  }
  const channels = input.channels === 0 ? 1 : input.channels;
  if (channels !== 1 && channels !== 2) {
    throw new PcmFormatError(
      "channels",
      `channels ${input.channels} is not supported: use 1 (mono), 2 (stereo), or 0 for mono`,
    );
  }
  if (input.byteLength > input.maxBytes) {
    throw new PcmFormatError(
      "pcm_data",
      `pcm_data is ${input.byteLength} bytes, over the limit of ${input.maxBytes}: send smaller chunks`,
    );
  }
  const frameBytes = BYTES_PER_SAMPLE * channels;
  if (input.byteLength % frameBytes !== 0) {
    throw new PcmFormatError(
      "pcm_data",
      `pcm_data has an odd length of ${input.byteLength} bytes: 16-bit PCM with ${channels} channel(s) needs a multiple of ${frameBytes}`,
    );
  }
  return { sampleRate, channels };
}

/** Highest `track_id`: each id is a published track, so the ids a user may use are bounded. */
export const MAX_TRACK_ID = 15;

/**
 * Checks a `track_id` and returns it; a negative, fractional or too high id throws
 * {@link PcmFormatError}.
 */
export function validateTrackId(trackId: number): number {
  if (!Number.isSafeInteger(trackId) || trackId < 0 || trackId > MAX_TRACK_ID) {
    throw new PcmFormatError(
      "track_id",
      `track_id ${trackId} is not valid: use an integer from 0 to ${MAX_TRACK_ID} (one track each)`,
    );
  }
  return trackId;
}

/**
 * Averages interleaved channels into a fresh mono array (rounded to the nearest integer).
 * Mono input comes back as a copy. Throws RangeError when the length is not a whole
 * number of sample frames.
 */
export function downmixToMono(interleaved: Int16Array, channels: number): Int16Array<ArrayBuffer> {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RangeError(`channels must be a positive integer, got ${channels}`);
  }
  if (interleaved.length % channels !== 0) {
    throw new RangeError(
      `${interleaved.length} interleaved samples are not a whole number of ${channels}-channel frames`,
    );
  }
  if (channels === 1) return interleaved.slice();
  const mono = new Int16Array(interleaved.length / channels);
  for (let frame = 0, source = 0; frame < mono.length; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) sum += interleaved[source++] as number;
    mono[frame] = Math.round(sum / channels);
  }
  return mono;
}
