import { MPEGDecoder } from "mpg123-decoder";
import { concatBytes, skipFirst } from "./body-bytes.js";
import {
  type AudioDecoder,
  type AudioFormat,
  channelWord,
  type DecodedPcm,
} from "./decoded-audio.js";
import { decodeError } from "./errors.js";
import {
  type FrameHeader,
  findFrame,
  id3v2Length,
  parseFrameHeader,
  readStreamInfo,
} from "./mp3-frames.js";

/** Junk tolerated between frames before the stream counts as damaged. */
export const MAX_JUNK_BYTES = 65_536;
/**
 * Bytes after the last frame that may be something other than audio (an ID3v1 tag is
 * 128, an APE or Lyrics3 tag a few kB); more is a damaged stream, as a cut-off frame is.
 */
const MAX_TRAILING_BYTES = 8_192;
/** Frames handed to mpg123 per call. */
const FRAMES_PER_CALL = 8;

/** Options of {@link createMp3Decoder}. */
export interface Mp3DecoderOptions {
  /** Content-Length of the body, for estimating the duration of a stream without Xing. */
  readonly contentLength: number | undefined;
  /** Bytes of ID3 tags before `head` that were dropped unread (see openDecoder). */
  readonly skippedBytes?: number;
}

/**
 * Creates a progressive MP3 decoder (mpg123 compiled to WebAssembly, gapless) for a body
 * whose first bytes are `head`; they must reach the first frame (see sniffFormat). The
 * frames are cut here, so a stream whose last frame is cut off, or that ends well before
 * the length its Xing header announces, is told apart as a decode_error.
 */
export async function createMp3Decoder(
  head: Uint8Array,
  options: Mp3DecoderOptions,
): Promise<AudioDecoder> {
  let tagBytes = 0;
  for (;;) {
    const tag = id3v2Length(head, tagBytes);
    if (tag === undefined || tag === 0) break;
    tagBytes += tag;
  }
  const found = findFrame(head, tagBytes, MAX_JUNK_BYTES);
  const first = found === undefined ? undefined : parseFrameHeader(head, found.offset);
  if (found === undefined || first === undefined) {
    throw decodeError("no MPEG audio frame after the ID3 tag");
  }
  const info = readStreamInfo(head, found.offset, first);
  const bitrate = averageBitrateKbps(head, found.offset, first);
  const format = describe(
    first,
    info?.samples,
    bitrate,
    tagBytes + (options.skippedBytes ?? 0),
    options.contentLength,
  );
  const expectedSamples = info?.samples;

  const mpeg = new MPEGDecoder({ enableGapless: true });
  await mpeg.ready;
  let freed = false;
  let pending: Uint8Array = new Uint8Array(0);
  const skip = skipFirst(tagBytes);
  let junk = 0;
  // Junk since the last complete frame: what trails the audio if the body ends here.
  let junkSinceFrame = 0;
  let decodedSamples = 0;
  let frames = 0;

  const decodeFrames = (batch: Uint8Array[]): DecodedPcm[] => {
    if (batch.length === 0 || freed) return [];
    const result = mpeg.decodeFrames(batch);
    if (result.samplesDecoded === 0) return [];
    decodedSamples += result.samplesDecoded;
    // mpg123 hands out two channels even for mono streams; keep what the stream has.
    const channels = result.channelData.slice(0, first.channels);
    return [
      {
        samples: interleave(channels, result.samplesDecoded),
        sampleRate: result.sampleRate,
        channels: channels.length,
      },
    ];
  };

  const push = (bytes: Uint8Array): DecodedPcm[] => {
    const input = skip(bytes);
    pending = concatBytes(pending, input);
    const out: DecodedPcm[] = [];
    let batch: Uint8Array[] = [];
    let offset = 0;
    while (offset + 4 <= pending.length) {
      const header = parseFrameHeader(pending, offset);
      if (header === undefined) {
        const next = findFrame(pending, offset + 1, pending.length);
        const to = next?.offset ?? pending.length - 3;
        junk += to - offset;
        junkSinceFrame += to - offset;
        if (junk > MAX_JUNK_BYTES) throw decodeError(`${junk} bytes that are not MPEG audio`);
        offset = to;
        if (next === undefined) break;
        continue;
      }
      if (offset + header.length > pending.length) break;
      batch.push(pending.subarray(offset, offset + header.length));
      frames++;
      junkSinceFrame = 0;
      offset += header.length;
      if (batch.length === FRAMES_PER_CALL) {
        out.push(...decodeFrames(batch));
        batch = [];
      }
    }
    out.push(...decodeFrames(batch));
    pending = pending.slice(offset);
    return out;
  };

  return {
    format,
    push,
    end() {
      const header = parseFrameHeader(pending, 0);
      if (header !== undefined && header.length > pending.length) {
        throw decodeError(
          `the MP3 is truncated: its last frame has ${pending.length} of ${header.length} bytes`,
        );
      }
      const rate = format.sampleRate;
      if (frames === 0) throw decodeError("no complete MPEG audio frame");
      const trailing = junkSinceFrame + pending.length;
      if (trailing > MAX_TRAILING_BYTES) {
        throw decodeError(
          `the MP3 ends in ${trailing} bytes that are not MPEG audio after its last frame`,
        );
      }
      if (expectedSamples !== undefined && decodedSamples + 2 * first.samples < expectedSamples) {
        throw decodeError(
          `the MP3 is truncated: its header announces ${msOf(expectedSamples, rate)} ms, the body ended after ${msOf(decodedSamples, rate)} ms`,
        );
      }
      return [];
    },
    free() {
      if (freed) return;
      freed = true;
      mpeg.free();
    },
  };
}

/** The mean bitrate of the complete frames in `head` (VBR streams vary frame to frame). */
function averageBitrateKbps(head: Uint8Array, offset: number, first: FrameHeader): number {
  let bytes = 0;
  let samples = 0;
  for (let at = offset; ; ) {
    const header = parseFrameHeader(head, at);
    if (header === undefined || at + header.length > head.length) break;
    bytes += header.length;
    samples += header.samples;
    at += header.length;
  }
  if (samples === 0) return first.bitrateKbps;
  return (bytes * 8) / ((samples / first.sampleRate) * 1000);
}

function describe(
  first: FrameHeader,
  samples: number | undefined,
  bitrateKbps: number,
  tagBytes: number,
  contentLength: number | undefined,
): AudioFormat {
  const base = {
    codec: "mp3" as const,
    sampleRate: first.sampleRate,
    channels: first.channels,
    description: `MP3 (MPEG-${first.version} layer ${first.layer}), ${first.sampleRate} Hz, ${channelWord(first.channels)}, ${samples === undefined ? `about ${Math.round(bitrateKbps)} kbit/s` : "with a Xing/VBRI header"}`,
  };
  if (samples !== undefined) {
    return { ...base, durationMs: msOf(samples, first.sampleRate), durationSource: "header" };
  }
  if (contentLength !== undefined && contentLength > tagBytes) {
    const durationMs = Math.round(((contentLength - tagBytes) * 8) / bitrateKbps);
    return { ...base, durationMs, durationSource: "estimate" };
  }
  return { ...base, durationMs: 0, durationSource: "unknown" };
}

function interleave(channels: readonly Float32Array[], frames: number): Float32Array {
  const [only] = channels;
  if (channels.length === 1 && only !== undefined) return only.slice(0, frames);
  const out = new Float32Array(frames * channels.length);
  channels.forEach((data, c) => {
    for (let i = 0; i < frames; i++) out[i * channels.length + c] = data[i] ?? 0;
  });
  return out;
}

function msOf(samples: number, sampleRate: number): number {
  return Math.round((samples / sampleRate) * 1000);
}
