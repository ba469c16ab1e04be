import { audibleMs, dominantFrequency } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { readFixture } from "../support/audio-server.js";
import { decodeAll, openError } from "./decode.js";

describe("MP3 decoding", () => {
  it.each([
    ["mp3-22k-mono-cbr-440.mp3", 440, 22_050, 1, "header"],
    ["mp3-16k-mono-3s-740.mp3", 740, 16_000, 1, "header"],
    ["mp3-44k-stereo-cbr-id3-660.mp3", 660, 44_100, 2, "header"],
    ["mp3-48k-mono-vbr-880.mp3", 880, 48_000, 1, "header"],
    ["mp3-48k-stereo-vbr-noxing-1000.mp3", 1_000, 48_000, 2, "estimate"],
    ["mp3-44k-mono-cbr-noxing-550.mp3", 550, 44_100, 1, "estimate"],
  ] as const)("decodes %s progressively", async (name, frequency, rate, channels, source) => {
    const body = readFixture(name);
    const decoded = await decodeAll(body, 97, body.length);
    const toneMs = name.includes("-3s-") ? 3_000 : 800;
    expect(decoded.error).toBeUndefined();
    expect([decoded.format.sampleRate, decoded.format.channels]).toEqual([rate, channels]);
    expect(decoded.channels).toBe(channels);
    expect(decoded.format.durationSource).toBe(source);
    // Gapless decoding: the 800 ms tone comes out 800 ms long where the Xing/LAME header
    // says how much the encoder added; without it, the decoder delay and padding remain.
    expect(Math.abs(audibleMs(decoded.mono, rate) - toneMs)).toBeLessThanOrEqual(30);
    if (source === "header")
      expect(Math.abs(decoded.format.durationMs - toneMs)).toBeLessThanOrEqual(5);
    else expect(decoded.format.durationMs).toBeGreaterThan(0);
    expect(Math.abs(dominantFrequency(decoded.mono, rate) - frequency)).toBeLessThan(3);
  });

  it.each([["mp3-48k-stereo-vbr-noxing-1000.mp3"], ["mp3-44k-mono-cbr-noxing-550.mp3"]])(
    "estimates the duration of %s from its length and mean bitrate",
    async (name) => {
      const body = readFixture(name);
      const decoded = await decodeAll(body, body.length, body.length);
      expect(decoded.format.durationSource).toBe("estimate");
      expect(Math.abs(decoded.format.durationMs - decoded.durationMs)).toBeLessThanOrEqual(60);
    },
  );

  it("says nothing about the duration of a stream without Xing or Content-Length", async () => {
    const decoded = await decodeAll(readFixture("mp3-44k-mono-cbr-noxing-550.mp3"));
    expect([decoded.format.durationMs, decoded.format.durationSource]).toEqual([0, "unknown"]);
  });

  it("fails a stream cut in the middle of a frame, after decoding what came before", async () => {
    const body = readFixture("mp3-16k-mono-3s-740.mp3");
    const decoded = await decodeAll(body.subarray(0, Math.floor(body.length / 2) + 7));
    expect(decoded.error?.code).toBe("decode_error");
    expect(decoded.error?.message).toMatch(
      /^decode error: the MP3 is truncated: its last frame has \d+ of \d+ bytes$/,
    );
    expect(decoded.durationMs).toBeGreaterThan(1_200);
  });

  it("fails a stream cut at a frame boundary by the length its Xing header announces", async () => {
    const body = readFixture("mp3-16k-mono-3s-740.mp3");
    // 40 kbit/s at 16 kHz: frames of 72 * 40000 / 16000 = 180 bytes, the info frame too.
    const decoded = await decodeAll(body.subarray(0, 180 * 12));
    expect(decoded.error?.message).toMatch(
      /^decode error: the MP3 is truncated: its header announces 3000 ms, the body ended after \d+ ms$/,
    );
  });

  it.each([
    [
      "an HTML page",
      new TextEncoder().encode("<!DOCTYPE html><html><body>Not found</body></html>"),
      'unsupported format: neither MP3 nor WAV; it starts with "<!DOCTYPE html><html><bo"… (50 bytes)',
    ],
    [
      "random bytes",
      Uint8Array.from({ length: 5_000 }, (_, i) => (i * 7_919) % 251),
      "unsupported format: neither MP3 nor WAV; it starts with bytes 00 8a 19 a3 32 bc 4b d5 64 ee 7d 0c … (4096 bytes)",
    ],
    [
      "an Ogg file",
      new TextEncoder().encode("OggS\u0000\u0002\u0000\u0000\u0000\u0000\u0000\u0000"),
      "unsupported format: neither MP3 nor WAV; it starts with bytes 4f 67 67 53 00 02 00 00 00 00 00 00 (12 bytes)",
    ],
  ])("refuses %s as unsupported, saying what it saw", async (_name, body, message) => {
    const error = await openError(body);
    expect([error.code, error.message]).toEqual(["unsupported_format", message]);
  });

  it("calls an empty body empty", async () => {
    const error = await openError(new Uint8Array(0));
    expect([error.code, error.message]).toEqual([
      "empty",
      "the body from http://127.0.0.1/test is empty (0 bytes)",
    ]);
  });
});
