import { concatBytes, skipFirst } from "./body-bytes.js";
import {
  type AudioDecoder,
  type AudioFormat,
  channelWord,
  type DecodedPcm,
} from "./decoded-audio.js";
import { decodeError, PlaybackError } from "./errors.js";

/** Sizes streaming writers put in a header when they do not know the length yet. */
const UNKNOWN_SIZES = new Set([0, 0xffffffff]);
/** A fmt chunk larger than this is not a real one. */
const MAX_FMT_BYTES = 4_096;
/** Samples per channel decoded per output block, so one push never returns one huge array. */
const BLOCK_FRAMES = 4_096;

type SampleReader = (view: DataView, offset: number) => number;

interface WavFormat {
  readonly sampleRate: number;
  readonly channels: number;
  readonly blockAlign: number;
  readonly read: SampleReader;
  readonly bytesPerSample: number;
  readonly name: string;
}

/** The header of a WAV body: its format and where the samples start. */
export interface WavHeader {
  readonly format: WavFormat;
  /** Offset of the first sample byte in the body. */
  readonly dataOffset: number;
  /** Bytes of samples the header announces; undefined when it does not know. */
  readonly dataBytes: number | undefined;
}

/**
 * Parses a WAV header from the first bytes of a body: undefined while more bytes are
 * needed, a {@link PlaybackError} (unsupported_format or decode_error) when it cannot be
 * played. Chunks other than `fmt ` and `data` are skipped; the RIFF size is ignored.
 */
export function parseWavHeader(bytes: Uint8Array, ended: boolean): WavHeader | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rf64 = ascii(bytes, 0, 4) === "RF64";
  let offset = 12;
  let format: WavFormat | undefined;
  for (;;) {
    if (offset + 8 > bytes.length) return needMore(ended, "the WAV header is cut off");
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    if (id === "fmt ") {
      if (size < 16 || size > MAX_FMT_BYTES) throw decodeError(`a WAV fmt chunk of ${size} bytes`);
      if (offset + 8 + size > bytes.length) return needMore(ended, "the WAV fmt chunk is cut off");
      format = parseFmt(new DataView(bytes.buffer, bytes.byteOffset + offset + 8, size));
    } else if (id === "data") {
      if (format === undefined) throw decodeError("a WAV data chunk before its fmt chunk");
      const known = !rf64 && !UNKNOWN_SIZES.has(size);
      return { format, dataOffset: offset + 8, dataBytes: known ? size : undefined };
    }
    offset += 8 + size + (size % 2);
  }
}

function needMore(ended: boolean, what: string): undefined {
  if (ended) throw decodeError(what);
  return undefined;
}

const FORMAT_NAMES: Readonly<Record<number, string>> = {
  2: "ADPCM",
  6: "A-law",
  7: "µ-law",
  17: "IMA ADPCM",
  85: "MPEG Layer III",
};

function parseFmt(view: DataView): WavFormat {
  let code = view.getUint16(0, true);
  const channels = view.getUint16(2, true);
  const sampleRate = view.getUint32(4, true);
  const blockAlign = view.getUint16(12, true);
  const bits = view.getUint16(14, true);
  if (code === 0xfffe) {
    if (view.byteLength < 26)
      throw decodeError("a WAVE_FORMAT_EXTENSIBLE fmt chunk that is too short");
    code = view.getUint16(24, true);
  }
  if (channels < 1 || channels > 32) throw unsupported(`a WAV with ${channels} channels`);
  if (sampleRate < 1_000 || sampleRate > 384_000) throw unsupported(`a WAV at ${sampleRate} Hz`);
  const reader = sampleReader(code, bits);
  if (reader === undefined) {
    const name = FORMAT_NAMES[code] ?? `format code 0x${code.toString(16).padStart(4, "0")}`;
    const what = code === 1 || code === 3 ? `${bits}-bit ${code === 3 ? "float" : "PCM"}` : name;
    throw unsupported(`a WAV of ${what}; only 8/16/24/32-bit integer and 32/64-bit float PCM play`);
  }
  const bytesPerSample = bits / 8;
  if (blockAlign !== bytesPerSample * channels) {
    throw decodeError(
      `a WAV whose block align ${blockAlign} does not match ${bits}-bit × ${channels}`,
    );
  }
  return { sampleRate, channels, blockAlign, bytesPerSample, read: reader.read, name: reader.name };
}

function sampleReader(
  code: number,
  bits: number,
): { read: SampleReader; name: string } | undefined {
  if (code === 1) {
    switch (bits) {
      case 8:
        return { name: "8-bit PCM", read: (v, o) => (v.getUint8(o) - 128) / 128 };
      case 16:
        return { name: "16-bit PCM", read: (v, o) => v.getInt16(o, true) / 32_768 };
      case 24:
        return {
          name: "24-bit PCM",
          read: (v, o) => ((v.getInt8(o + 2) << 16) | v.getUint16(o, true)) / 8_388_608,
        };
      case 32:
        return { name: "32-bit PCM", read: (v, o) => v.getInt32(o, true) / 2_147_483_648 };
    }
  }
  if (code === 3 && bits === 32)
    return { name: "32-bit float", read: (v, o) => v.getFloat32(o, true) };
  if (code === 3 && bits === 64)
    return { name: "64-bit float", read: (v, o) => v.getFloat64(o, true) };
  return undefined;
}

/**
 * Creates a decoder for a WAV body from its parsed header; it is then pushed the whole
 * body from its first byte. A body that ends before the announced
 * length is a decode_error, once what did arrive has been decoded.
 */
export function createWavDecoder(header: WavHeader): AudioDecoder {
  const { format: wav, dataBytes } = header;
  const durationMs =
    dataBytes === undefined
      ? 0
      : Math.round((Math.floor(dataBytes / wav.blockAlign) / wav.sampleRate) * 1000);
  const format: AudioFormat = {
    codec: "wav",
    sampleRate: wav.sampleRate,
    channels: wav.channels,
    durationMs,
    durationSource: dataBytes === undefined ? "unknown" : "header",
    description: `WAV ${wav.name}, ${wav.sampleRate} Hz, ${channelWord(wav.channels)}`,
  };
  let pending: Uint8Array = new Uint8Array(0);
  let remaining = dataBytes ?? Number.POSITIVE_INFINITY;
  let consumed = 0;
  const skip = skipFirst(header.dataOffset);

  const decode = (bytes: Uint8Array): DecodedPcm[] => {
    let input = skip(bytes);
    if (remaining < input.length) input = input.subarray(0, remaining);
    remaining -= input.length;
    pending = concatBytes(pending, input);
    const frames = Math.floor(pending.length / wav.blockAlign);
    const out: DecodedPcm[] = [];
    const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
    for (let first = 0; first < frames; first += BLOCK_FRAMES) {
      const count = Math.min(BLOCK_FRAMES, frames - first);
      const samples = new Float32Array(count * wav.channels);
      let offset = first * wav.blockAlign;
      for (let i = 0; i < samples.length; i++, offset += wav.bytesPerSample) {
        samples[i] = wav.read(view, offset);
      }
      out.push({ samples, sampleRate: wav.sampleRate, channels: wav.channels });
    }
    consumed += frames * wav.blockAlign;
    pending = pending.slice(frames * wav.blockAlign);
    return out;
  };

  return {
    format,
    push: decode,
    end() {
      if (dataBytes !== undefined && remaining > 0) {
        const playedMs = Math.round((consumed / wav.blockAlign / wav.sampleRate) * 1000);
        throw decodeError(
          `the WAV is truncated: its header announces ${durationMs} ms (${dataBytes} bytes), the body ended after ${playedMs} ms (${consumed} bytes)`,
        );
      }
      return [];
    },
    free() {
      pending = new Uint8Array(0);
    },
  };
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function unsupported(what: string): PlaybackError {
  return new PlaybackError("unsupported_format", `unsupported format: ${what}`);
}
