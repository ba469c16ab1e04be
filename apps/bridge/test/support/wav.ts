/** Sample encodings {@link encodeWav} writes, as WAV format code and bits. */
export type WavEncoding = "u8" | "s16" | "s24" | "s32" | "f32" | "f64";

/** Options of {@link encodeWav}. */
export interface EncodeWavOptions {
  readonly sampleRate: number;
  readonly channels: number;
  readonly encoding: WavEncoding;
  /** Write WAVE_FORMAT_EXTENSIBLE instead of the plain format code. */
  readonly extensible?: boolean;
  /** The data chunk size to write instead of the true one (a lying header). */
  readonly dataSizeOverride?: number;
  /** Chunks written between fmt and data, e.g. a LIST chunk. */
  readonly extraChunks?: readonly { id: string; body: Uint8Array }[];
}

const BITS: Record<WavEncoding, number> = { u8: 8, s16: 16, s24: 24, s32: 32, f32: 32, f64: 64 };

/** A sine tone at amplitude 0.5 as interleaved floats, the same on every channel. */
export function toneFloats(options: {
  frequencyHz: number;
  sampleRate: number;
  channels: number;
  durationMs: number;
}): Float32Array {
  const frames = Math.round((options.sampleRate * options.durationMs) / 1000);
  const out = new Float32Array(frames * options.channels);
  for (let i = 0; i < frames; i++) {
    const v = 0.5 * Math.sin((2 * Math.PI * options.frequencyHz * i) / options.sampleRate);
    for (let c = 0; c < options.channels; c++) out[i * options.channels + c] = v;
  }
  return out;
}

/** Writes interleaved floats in [-1, 1] as a WAV file, independently of the bridge's parser. */
export function encodeWav(samples: Float32Array, options: EncodeWavOptions): Uint8Array {
  const bits = BITS[options.encoding];
  const bytes = bits / 8;
  const float = options.encoding === "f32" || options.encoding === "f64";
  const code = float ? 3 : 1;
  const fmtSize = options.extensible === true ? 40 : 16;
  const dataSize = samples.length * bytes;
  const extras = options.extraChunks ?? [];
  const extraSize = extras.reduce((n, c) => n + 8 + c.body.length + (c.body.length % 2), 0);
  const total = 12 + 8 + fmtSize + extraSize + 8 + dataSize;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, total - 8, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, fmtSize, true);
  view.setUint16(20, options.extensible === true ? 0xfffe : code, true);
  view.setUint16(22, options.channels, true);
  view.setUint32(24, options.sampleRate, true);
  view.setUint32(28, options.sampleRate * options.channels * bytes, true);
  view.setUint16(32, options.channels * bytes, true);
  view.setUint16(34, bits, true);
  if (options.extensible === true) {
    view.setUint16(36, 22, true);
    view.setUint16(38, bits, true);
    view.setUint32(40, 0, true);
    view.setUint16(44, code, true);
    // The rest of the KSDATAFORMAT GUID: 0000-0010-8000-00aa00389b71.
    out.set(
      [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71],
      46,
    );
  }
  let offset = 20 + fmtSize;
  for (const chunk of extras) {
    ascii(offset, chunk.id);
    view.setUint32(offset + 4, chunk.body.length, true);
    out.set(chunk.body, offset + 8);
    offset += 8 + chunk.body.length + (chunk.body.length % 2);
  }
  ascii(offset, "data");
  view.setUint32(offset + 4, options.dataSizeOverride ?? dataSize, true);
  offset += 8;
  for (const value of samples) {
    const v = Math.max(-1, Math.min(1, value));
    switch (options.encoding) {
      case "u8":
        view.setUint8(offset, Math.min(255, Math.round(v * 128 + 128)));
        break;
      case "s16":
        view.setInt16(offset, Math.min(32_767, Math.round(v * 32_768)), true);
        break;
      case "s24": {
        const s = Math.min(8_388_607, Math.round(v * 8_388_608));
        view.setUint8(offset, s & 0xff);
        view.setUint8(offset + 1, (s >> 8) & 0xff);
        view.setInt8(offset + 2, s >> 16);
        break;
      }
      case "s32":
        view.setInt32(offset, Math.min(2_147_483_647, Math.round(v * 2_147_483_648)), true);
        break;
      case "f32":
        view.setFloat32(offset, v, true);
        break;
      case "f64":
        view.setFloat64(offset, v, true);
        break;
    }
    offset += bytes;
  }
  return out;
}
