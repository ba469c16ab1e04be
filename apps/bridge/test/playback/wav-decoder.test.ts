import { dominantFrequency } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { readFixture } from "../support/audio-server.js";
import { encodeWav, toneFloats, type WavEncoding } from "../support/wav.js";
import { decodeAll, openError } from "./decode.js";

describe("WAV decoding", () => {
  it.each([
    ["wav-u8-8k-500.wav", 500, "WAV 8-bit PCM, 8000 Hz, 1 channel"],
    ["wav-s16-8k-600.wav", 600, "WAV 16-bit PCM, 8000 Hz, 1 channel"],
    ["wav-s24-8k-700.wav", 700, "WAV 24-bit PCM, 8000 Hz, 1 channel"],
    ["wav-s32-8k-800.wav", 800, "WAV 32-bit PCM, 8000 Hz, 1 channel"],
    ["wav-f32-8k-900.wav", 900, "WAV 32-bit float, 8000 Hz, 1 channel"],
  ])("decodes %s as written by sox (%i Hz)", async (name, frequency, description) => {
    const decoded = await decodeAll(readFixture(name), 333);
    expect(decoded.error).toBeUndefined();
    expect(decoded.format.description).toBe(description);
    expect(decoded.format.durationMs).toBe(250);
    expect(decoded.format.durationSource).toBe("header");
    expect(decoded.mono.length).toBe(2_000);
    expect(Math.abs(dominantFrequency(decoded.mono, 8_000) - frequency)).toBeLessThan(2);
    const peak = decoded.mono.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(peak / 32_768).toBeGreaterThan(0.45);
    expect(peak / 32_768).toBeLessThan(0.55);
  });

  const encodings: WavEncoding[] = ["u8", "s16", "s24", "s32", "f32", "f64"];
  it.each(
    encodings.flatMap(
      (encoding) =>
        [
          [encoding, 11_025, 1, false],
          [encoding, 44_100, 2, true],
          [encoding, 96_000, 6, false],
        ] as const,
    ),
  )(
    "decodes %s at %i Hz with %i channels (extensible %s)",
    async (encoding, rate, channels, extensible) => {
      const body = encodeWav(
        toneFloats({ frequencyHz: 1_000, sampleRate: rate, channels, durationMs: 300 }),
        {
          sampleRate: rate,
          channels,
          encoding,
          extensible,
          extraChunks: [{ id: "LIST", body: new Uint8Array(33) }],
        },
      );
      // One byte at a time for the small ones: no assumption about where chunks break.
      const decoded = await decodeAll(body, rate === 11_025 ? 1 : 4_099);
      expect(decoded.error).toBeUndefined();
      expect(decoded.format.sampleRate).toBe(rate);
      expect(decoded.format.channels).toBe(channels);
      expect(decoded.format.durationMs).toBe(300);
      expect(decoded.mono.length).toBe(Math.round((rate * 300) / 1000));
      expect(Math.abs(dominantFrequency(decoded.mono, rate) - 1_000)).toBeLessThan(2);
    },
  );

  it("plays a body of unknown length (size 0xFFFFFFFF, as streaming writers do) to its end", async () => {
    const tone = toneFloats({ frequencyHz: 440, sampleRate: 16_000, channels: 1, durationMs: 500 });
    const body = encodeWav(tone, {
      sampleRate: 16_000,
      channels: 1,
      encoding: "s16",
      dataSizeOverride: 0xffffffff,
    });
    const decoded = await decodeAll(body);
    expect(decoded.error).toBeUndefined();
    expect([decoded.format.durationMs, decoded.format.durationSource]).toEqual([0, "unknown"]);
    expect(decoded.mono.length).toBe(8_000);
  });

  it("decodes what arrived of a header that announces more, then fails as truncated", async () => {
    const tone = toneFloats({ frequencyHz: 440, sampleRate: 16_000, channels: 1, durationMs: 500 });
    const body = encodeWav(tone, {
      sampleRate: 16_000,
      channels: 1,
      encoding: "s16",
      dataSizeOverride: 320_000,
    });
    const decoded = await decodeAll(body);
    expect(decoded.mono.length).toBe(8_000);
    expect(decoded.format.durationMs).toBe(10_000);
    expect(decoded.error?.code).toBe("decode_error");
    expect(decoded.error?.message).toBe(
      "decode error: the WAV is truncated: its header announces 10000 ms (320000 bytes), the body ended after 500 ms (16000 bytes)",
    );
  });

  it("plays only the samples a header announces when the body carries more", async () => {
    const tone = toneFloats({ frequencyHz: 440, sampleRate: 16_000, channels: 1, durationMs: 500 });
    const body = encodeWav(tone, {
      sampleRate: 16_000,
      channels: 1,
      encoding: "s16",
      dataSizeOverride: 3_200,
    });
    const decoded = await decodeAll(body);
    expect(decoded.error).toBeUndefined();
    expect(decoded.mono.length).toBe(1_600);
  });

  it.each([
    [
      "IMA ADPCM",
      () => {
        const body = encodeWav(new Float32Array(8), {
          sampleRate: 8_000,
          channels: 1,
          encoding: "s16",
        });
        new DataView(body.buffer).setUint16(20, 17, true);
        return body;
      },
      "unsupported format: a WAV of IMA ADPCM; only 8/16/24/32-bit integer and 32/64-bit float PCM play",
    ],
    [
      "12-bit PCM",
      () => {
        const body = encodeWav(new Float32Array(8), {
          sampleRate: 8_000,
          channels: 1,
          encoding: "s16",
        });
        new DataView(body.buffer).setUint16(34, 12, true);
        return body;
      },
      "unsupported format: a WAV of 12-bit PCM; only 8/16/24/32-bit integer and 32/64-bit float PCM play",
    ],
    [
      "RIFX",
      () => {
        const body = encodeWav(new Float32Array(8), {
          sampleRate: 8_000,
          channels: 1,
          encoding: "s16",
        });
        body.set([0x52, 0x49, 0x46, 0x58], 0);
        return body;
      },
      "unsupported format: a big-endian WAV (RIFX), which is not supported (60 bytes)",
    ],
  ])("refuses %s with a readable reason", async (_name, make, message) => {
    const error = await openError(make());
    expect(error.code).toBe("unsupported_format");
    expect(error.message).toBe(message);
  });

  it("fails a WAV whose header ends before its data chunk as a decode error", async () => {
    const body = encodeWav(new Float32Array(8), {
      sampleRate: 8_000,
      channels: 1,
      encoding: "s16",
    });
    const error = await openError(body.subarray(0, 30));
    expect([error.code, error.message]).toEqual([
      "decode_error",
      "decode error: the WAV fmt chunk is cut off",
    ]);
  });
});
