import type { AudioFrame, AudioSource } from "@livekit/rtc-node";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createOutboundPump,
  LATE_GAP_MS,
  type OutboundPump,
} from "../../src/livekit/outbound-pump.js";

const RATE = 16_000;
const FRAME_MS = 20;
const SAMPLES = (RATE * FRAME_MS) / 1000;

/**
 * An AudioSource that plays in real time on the (fake) clock, as rtc-node's does on its own
 * thread: captureFrame waits while `queueMs` is held, and every gap between two frames'
 * play-out is silence the room heard inside the audio.
 */
function playingSource(queueMs: number) {
  let playEnd = 0;
  const starts: number[] = [];
  const gaps: number[] = [];
  const queued = () => Math.max(0, playEnd - performance.now());
  const source = {
    get queuedDuration() {
      return queued();
    },
    async captureFrame(_frame: AudioFrame) {
      while (queued() > queueMs) {
        await new Promise((resolve) => setTimeout(resolve, queued() - queueMs));
      }
      const now = performance.now();
      if (starts.length > 0 && now > playEnd) gaps.push(now - playEnd);
      const start = Math.max(now, playEnd);
      starts.push(start);
      playEnd = start + FRAME_MS;
    },
    async waitForPlayout() {
      await new Promise((resolve) => setTimeout(resolve, queued()));
    },
  };
  return { source: source as unknown as AudioSource, starts, gaps };
}

function pumpOn(source: AudioSource, primeMs: number, maxLateMs = 0): OutboundPump {
  return createOutboundPump({
    source,
    sampleRate: RATE,
    channels: 1,
    frameMs: FRAME_MS,
    samplesPerFrame: SAMPLES,
    primeMs,
    maxLateMs,
    isClosed: () => false,
    onCaptured: () => {},
    onPlayedOut: () => {},
  });
}

/** Writes one frame of cloud audio (timed) or playback (untimed) and runs the pump. */
function write(pump: OutboundPump, timed = true): void {
  pump.push(new Int16Array(SAMPLES), timed ? performance.now() : Number.NaN);
  void pump.run();
}

/**
 * The cloud's frames in real time, except that each one listed in `lateMs` (frame index →
 * ms) comes that much late and the frames after it catch up at once, as a busy event loop
 * reads a connection.
 */
async function sendUtterance(pump: OutboundPump, frames: number, lateMs: Map<number, number>) {
  const start = performance.now();
  let delay = 0;
  for (let i = 0; i < frames; i++) {
    delay = Math.max(delay - FRAME_MS, lateMs.get(i) ?? 0);
    const at = start + i * FRAME_MS + delay;
    await vi.advanceTimersByTimeAsync(Math.max(0, at - performance.now()));
    write(pump);
  }
}

/** Frames 10, 25 and 40 come 50, 40 and `last` ms late. */
const threeLate = (last: number) =>
  new Map([
    [10, 50],
    [25, 40],
    [40, last],
  ]);

describe("outbound pump: cloud audio plays on a schedule", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds an utterance's start for the jitter buffer, so frames up to that late leave no gap", async () => {
    const { source, starts, gaps } = playingSource(100);
    const pump = pumpOn(source, 60);
    const t0 = performance.now();
    await sendUtterance(pump, 50, threeLate(55));
    await vi.advanceTimersByTimeAsync(500);
    expect(starts).toHaveLength(50);
    // The first frame played 60 ms after it came.
    expect((starts[0] ?? 0) - t0).toBe(60);
    expect(gaps).toEqual([]);
    expect(pump.underruns()).toEqual({ count: 0, ms: 0, lateDroppedMs: 0 });
    // Frame k plays exactly k frames after the first: the track is not stretched.
    expect((starts[49] ?? 0) - (starts[0] ?? 0)).toBe(49 * FRAME_MS);
  });

  it("counts frames read late as underruns: the room heard the wait inside the utterance", async () => {
    const { source, gaps } = playingSource(100);
    const pump = pumpOn(source, 0, 1_000); // no drops: only the count
    await sendUtterance(pump, 50, threeLate(60));
    await vi.advanceTimersByTimeAsync(500);
    // No cushion: the first late frame leaves a gap of its lateness, and the utterance
    // plays that much later from then on, so the next late frames leave only what they
    // exceed it by (40 ms none, 60 ms 10 ms). Each gap is counted.
    expect(gaps.map(Math.round)).toEqual([50, 10]);
    expect(pump.underruns()).toEqual({ count: 2, ms: 60, lateDroppedMs: 0 });
  });

  it("counts a frame later than the jitter buffer, by the gap the room heard, and drops what came with it beyond the buffer", async () => {
    const { source, starts, gaps } = playingSource(100);
    const pump = pumpOn(source, 60);
    const t0 = performance.now();
    // Frame 10 comes 150 ms late, and frames 11-17 with it.
    await sendUtterance(pump, 30, new Map([[10, 150]]));
    await vi.advanceTimersByTimeAsync(500);
    // 150 ms late against a 60 ms cushion: 90 ms of silence.
    expect(gaps.map(Math.round)).toEqual([90]);
    // Then the burst would play 90 ms behind its schedule: 80 ms of it (4 frames) are
    // dropped, so the utterance ends within the jitter buffer (and a frame) of its last chunk.
    expect(pump.underruns()).toEqual({ count: 1, ms: 90, lateDroppedMs: 80 });
    expect(starts).toHaveLength(30 - 4);
    expect((starts.at(-1) ?? 0) - (t0 + 29 * FRAME_MS)).toBeLessThanOrEqual(60 + FRAME_MS);
    // The dropped frames' time is over: they count as played.
    expect(pump.capturedMs()).toBe(30 * FRAME_MS);
  });

  it("lets cloud audio fall behind by maxLateMs before it drops any", async () => {
    const { source, starts, gaps } = playingSource(100);
    const pump = pumpOn(source, 60, 100);
    // 150 ms late: 90 ms behind, within 100 ms: nothing is dropped.
    await sendUtterance(pump, 30, new Map([[10, 150]]));
    expect(pump.underruns()).toEqual({ count: 1, ms: 90, lateDroppedMs: 0 });
    // Then 200 ms late again, on top: 290 ms behind, and what is held after each frame
    // allows catching up to within 100 ms of the schedule (and a frame).
    await sendUtterance(pump, 30, new Map([[5, 200]]));
    await vi.advanceTimersByTimeAsync(1_000);
    const { count, ms, lateDroppedMs } = pump.underruns();
    expect(gaps.length).toBe(count);
    expect(lateDroppedMs).toBeGreaterThan(0);
    expect(ms - lateDroppedMs).toBeGreaterThanOrEqual(100);
    expect(ms - lateDroppedMs).toBeLessThan(100 + FRAME_MS);
    expect(starts.length + lateDroppedMs / FRAME_MS).toBe(60);
  });

  it("does not count a pause between utterances, and primes the next one again", async () => {
    const { source, starts, gaps } = playingSource(100);
    const pump = pumpOn(source, 60);
    await sendUtterance(pump, 10, new Map());
    await vi.advanceTimersByTimeAsync(LATE_GAP_MS + 300);
    const second = performance.now();
    await sendUtterance(pump, 10, new Map());
    await vi.advanceTimersByTimeAsync(500);
    expect(starts).toHaveLength(20);
    expect(gaps).toHaveLength(1);
    expect((starts[10] ?? 0) - second).toBe(60);
    expect(pump.underruns()).toEqual({ count: 0, ms: 0, lateDroppedMs: 0 });
  });

  it("starts an utterance anew after untimed audio (playback, a clear's silence): primed, and its wait no underrun", async () => {
    const { source, starts } = playingSource(100);
    const pump = pumpOn(source, 60);
    write(pump, false); // e.g. the 20 ms of silence a clear writes
    await vi.advanceTimersByTimeAsync(50); // it played out 30 ms ago
    const spoke = performance.now();
    await sendUtterance(pump, 10, new Map());
    await vi.advanceTimersByTimeAsync(500);
    expect(starts).toHaveLength(11);
    expect((starts[1] ?? 0) - spoke).toBe(60);
    expect(pump.underruns()).toEqual({ count: 0, ms: 0, lateDroppedMs: 0 });
  });

  it("plays an utterance shorter than the jitter buffer once its first frame has waited that long", async () => {
    const { source, starts } = playingSource(100);
    const pump = pumpOn(source, 60);
    const t0 = performance.now();
    write(pump);
    await vi.advanceTimersByTimeAsync(59);
    expect(starts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([t0 + 60]);
  });

  it("starts at once when more than the jitter buffer is held (a sender ahead of real time)", async () => {
    const { source, starts } = playingSource(100);
    const pump = pumpOn(source, 60);
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) write(pump);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts[0]).toBe(t0);
  });

  it("starts playback (untimed audio) at once", async () => {
    const { source, starts } = playingSource(100);
    const pump = pumpOn(source, 60);
    const t0 = performance.now();
    write(pump, false);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toEqual([t0]);
  });

  it("drops a held utterance with its wait: nothing plays after dropPending", async () => {
    const { source, starts } = playingSource(100);
    const pump = pumpOn(source, 60);
    write(pump);
    pump.dropPending();
    await vi.advanceTimersByTimeAsync(200);
    expect(starts).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
