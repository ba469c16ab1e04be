/** MPEG audio frame headers, read just enough to find frames, their length and the duration. */

/** One parsed 4-byte MPEG audio frame header. */
export interface FrameHeader {
  /** 1, 2 or 2.5. */
  readonly version: 1 | 2 | 2.5;
  readonly layer: 1 | 2 | 3;
  readonly bitrateKbps: number;
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  /** Bytes of the whole frame, header included. */
  readonly length: number;
  /** Samples per channel the frame decodes to. */
  readonly samples: number;
}

const BITRATES: Readonly<Record<string, readonly number[]>> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES: Readonly<Record<string, readonly number[]>> = {
  "1": [44_100, 48_000, 32_000],
  "2": [22_050, 24_000, 16_000],
  "2.5": [11_025, 12_000, 8_000],
};

/**
 * Parses the frame header at `offset`, or undefined when the bytes there are not a valid
 * one (free-format bitrate, reserved values and bad emphasis are rejected too).
 */
export function parseFrameHeader(bytes: Uint8Array, offset: number): FrameHeader | undefined {
  if (offset + 4 > bytes.length) return undefined;
  const b1 = bytes[offset + 1] ?? 0;
  const b2 = bytes[offset + 2] ?? 0;
  const b3 = bytes[offset + 3] ?? 0;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15)
    return undefined;
  if (rateIndex === 3 || (b3 & 3) === 2) return undefined;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const bitrateKbps = BITRATES[`${version === 1 ? 1 : 2}-${layer}`]?.[bitrateIndex] ?? 0;
  const sampleRate = RATES[String(version)]?.[rateIndex] ?? 0;
  const padding = (b2 >> 1) & 1;
  const channels = b3 >> 6 === 3 ? 1 : 2;
  let length: number;
  let samples: number;
  if (layer === 1) {
    length = (Math.floor((12_000 * bitrateKbps) / sampleRate) + padding) * 4;
    samples = 384;
  } else if (layer === 2 || version === 1) {
    length = Math.floor((144_000 * bitrateKbps) / sampleRate) + padding;
    samples = 1152;
  } else {
    length = Math.floor((72_000 * bitrateKbps) / sampleRate) + padding;
    samples = 576;
  }
  return { version, layer, bitrateKbps, sampleRate, channels, length, samples };
}

/**
 * Bytes of the ID3v2 tag at `offset` (header and footer included): 0 when there is none,
 * undefined when more bytes are needed to tell.
 */
export function id3v2Length(bytes: Uint8Array, offset = 0): number | undefined {
  const available = bytes.length - offset;
  if (available < 3) return undefined;
  if (bytes[offset] !== 0x49 || bytes[offset + 1] !== 0x44 || bytes[offset + 2] !== 0x33) return 0;
  if (available < 10) return undefined;
  const size =
    (((bytes[offset + 6] ?? 0) & 0x7f) << 21) |
    (((bytes[offset + 7] ?? 0) & 0x7f) << 14) |
    (((bytes[offset + 8] ?? 0) & 0x7f) << 7) |
    ((bytes[offset + 9] ?? 0) & 0x7f);
  const footer = ((bytes[offset + 5] ?? 0) & 0x10) !== 0 ? 10 : 0;
  return 10 + size + footer;
}

/** Where {@link findFrame} found a frame header. */
export interface FoundFrame {
  readonly offset: number;
  /** Another valid header follows it; false when the data ends before one could. */
  readonly confirmed: boolean;
}

/**
 * The first frame header at or after `from`, within `window` bytes, that is followed by
 * another valid header or by the end of the data; undefined if none.
 */
export function findFrame(bytes: Uint8Array, from: number, window: number): FoundFrame | undefined {
  const last = Math.min(bytes.length - 4, from + window);
  for (let offset = from; offset <= last; offset++) {
    const header = parseFrameHeader(bytes, offset);
    if (header === undefined) continue;
    const next = offset + header.length;
    if (next + 4 > bytes.length) return { offset, confirmed: false };
    if (parseFrameHeader(bytes, next) !== undefined) return { offset, confirmed: true };
  }
  return undefined;
}

/** What the first frame's Xing/Info, LAME or VBRI header tells about the whole stream. */
export interface StreamInfo {
  /** Samples per channel of the whole stream, encoder delay and padding removed. */
  readonly samples: number;
  /** The first frame carries only this header and decodes to nothing audible. */
  readonly infoFrame: boolean;
}

/** Reads the Xing/Info (with LAME delay/padding) or VBRI header of the frame at `offset`. */
export function readStreamInfo(
  bytes: Uint8Array,
  offset: number,
  header: FrameHeader,
): StreamInfo | undefined {
  const sideInfo =
    header.version === 1 ? (header.channels === 1 ? 17 : 32) : header.channels === 1 ? 9 : 17;
  const xing = offset + 4 + sideInfo;
  const tag = ascii(bytes, xing, 4);
  if (tag === "Xing" || tag === "Info") {
    const flags = u32(bytes, xing + 4);
    if ((flags & 1) === 0) return undefined;
    const frames = u32(bytes, xing + 8);
    // The optional fields before the LAME tag: bytes (2), TOC (4), quality (8).
    let lame = xing + 8 + 4;
    if (flags & 2) lame += 4;
    if (flags & 4) lame += 100;
    if (flags & 8) lame += 4;
    let trim = 0;
    if (/^(LAME|Lavf|Lavc|L3.9)/.test(ascii(bytes, lame, 4))) {
      const at = lame + 21;
      const delay = ((bytes[at] ?? 0) << 4) | ((bytes[at + 1] ?? 0) >> 4);
      const padding = (((bytes[at + 1] ?? 0) & 0x0f) << 8) | (bytes[at + 2] ?? 0);
      trim = delay + padding;
    }
    return { samples: Math.max(0, frames * header.samples - trim), infoFrame: true };
  }
  const vbri = offset + 4 + 32;
  if (ascii(bytes, vbri, 4) === "VBRI") {
    return { samples: u32(bytes, vbri + 14) * header.samples, infoFrame: true };
  }
  return undefined;
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  if (offset + length > bytes.length) return "";
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function u32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] ?? 0) << 24) |
      ((bytes[offset + 1] ?? 0) << 16) |
      ((bytes[offset + 2] ?? 0) << 8) |
      (bytes[offset + 3] ?? 0)) >>>
    0
  );
}
