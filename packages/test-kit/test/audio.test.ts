import { describe, expect, it } from "vitest";
import { audibleMs, concatPcm, dominantFrequency, sineTone, trimSilence } from "../src/audio.js";

describe("audio analysis used by the e2e suites", () => {
  it("finds the frequency of a tone to within a hertz", () => {
    for (const frequencyHz of [220, 440, 1000, 3150]) {
      const tone = sineTone({ frequencyHz, sampleRate: 16_000, durationMs: 500 });
      expect(Math.abs(dominantFrequency(tone, 16_000) - frequencyHz)).toBeLessThanOrEqual(1);
    }
  });

  it("measures how long a tone is audible between silences", () => {
    const rate = 48_000;
    const pcm = concatPcm([
      new Int16Array(rate / 4),
      sineTone({ frequencyHz: 440, sampleRate: rate, durationMs: 730 }),
      new Int16Array(rate / 2),
    ]);
    expect(audibleMs(pcm, rate)).toBeGreaterThanOrEqual(720);
    expect(audibleMs(pcm, rate)).toBeLessThanOrEqual(740);
    const trimmed = trimSilence(pcm, rate);
    expect(trimmed.length).toBeGreaterThanOrEqual((rate * 720) / 1000);
    expect(trimmed.length).toBeLessThanOrEqual((rate * 740) / 1000);
  });

  it("reports silence as silence", () => {
    const silence = new Int16Array(16_000);
    expect(audibleMs(silence, 16_000)).toBe(0);
    expect(trimSilence(silence, 16_000).length).toBe(0);
  });

  it("interleaves channels with the same sample in each", () => {
    const stereo = sineTone({ frequencyHz: 440, sampleRate: 8000, durationMs: 10, channels: 2 });
    expect(stereo.length).toBe(160);
    for (let i = 0; i < stereo.length; i += 2) expect(stereo[i]).toBe(stereo[i + 1]);
  });
});
