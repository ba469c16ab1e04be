import { sineTone } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { utterancePitch } from "../src/pitch.js";

const RATE = 16_000;
const tone = (ms: number) => sineTone({ frequencyHz: 300, sampleRate: RATE, durationMs: ms });
const silence = (ms: number) => new Int16Array((RATE * ms) / 1000);

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A 2 s utterance whose every 20 ms frame is followed by `gapMs` of invented silence. */
function stretched(gapMs: number): Int16Array {
  const frames: Int16Array[] = [];
  const whole = tone(2_000);
  for (let at = 0; at < whole.length; at += RATE / 50) {
    frames.push(whole.subarray(at, at + RATE / 50), silence(gapMs));
  }
  return concat(frames);
}

/** Utterances with 500 ms pauses between them, as the bench's TTS comes. */
const spoken = (...utterances: Int16Array[]) =>
  concat(utterances.flatMap((u, i) => (i === 0 ? [u] : [silence(500), u])));

describe("utterance pitch", () => {
  it("hears 300 Hz in whole utterances, leaving out the first and last (cut by the edges)", () => {
    const reading = utterancePitch(spoken(tone(700), tone(2_000), tone(2_000), tone(300)), RATE);
    expect(reading.utterances).toBe(2);
    expect(reading.lowestHz).toBeGreaterThan(299.5);
    expect(reading.highestHz).toBeLessThan(300.5);
  });

  it("hears a tone stretched by invented frames lower, by the stretch", () => {
    // 2 ms of silence after every 20 ms frame: 22 ms of time per 20 ms of tone (300 × 20/22).
    const reading = utterancePitch(spoken(tone(500), stretched(2), tone(2_000), tone(500)), RATE);
    expect(reading.utterances).toBe(2);
    expect(reading.lowestHz).toBeGreaterThan(268);
    expect(reading.lowestHz).toBeLessThan(278);
    expect(reading.highestHz).toBeGreaterThan(298);
  });

  it("measures nothing in silence or a single run", () => {
    expect(utterancePitch(silence(3_000), RATE)).toEqual({
      utterances: 0,
      lowestHz: 0,
      highestHz: 0,
    });
    expect(utterancePitch(tone(3_000), RATE).utterances).toBe(0);
  });
});
