import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StreamAttachment } from "../../src/session/session.js";
import { describeEnd, openFakeSession, roomFrame } from "./session-harness.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function take(stream: StreamAttachment, count: number): Promise<number[]> {
  const sequences: number[] = [];
  for (let i = 0; i < count; i++) {
    const result = await stream.next();
    if (result.done === true) break;
    sequences.push(result.value.sequence);
  }
  return sequences;
}

describe("Session cloud stream", () => {
  it("numbers room audio from 1 and delivers what came before the stream attached", async () => {
    const { session, connector } = await openFakeSession();
    const { handlers } = connector.link.options;
    handlers.onAudioFrame(roomFrame(10, 7), { identity: "glasses" }, performance.now());
    handlers.onAudioFrame(roomFrame(10, 8), { identity: "glasses" }, performance.now());
    const stream = session.attachStream();
    const first = await stream.next();
    expect(first.done).toBe(false);
    if (first.done === true) return;
    expect(first.value.sequence).toBe(1);
    expect(first.value.identity).toBe("glasses");
    expect(first.value.sampleRate).toBe(16_000);
    expect(first.value.pcm.byteLength).toBe(320);
    expect(new Int16Array(first.value.pcm.buffer, first.value.pcm.byteOffset, 160)[0]).toBe(7);
    expect(await take(stream, 1)).toEqual([2]);
    expect(session.status().metadata.chunks_to_cloud).toBe("2");
    await session.close("left");
  });

  it("drops the oldest audio beyond the queue's bound while no stream reads", async () => {
    const { session, connector } = await openFakeSession({ cloudQueueMs: 30 });
    const { handlers } = connector.link.options;
    for (let i = 0; i < 5; i++) handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    expect(session.status().metadata.cloud_dropped_ms).toBe("20");
    expect(session.status().metadata.cloud_queued_ms).toBe("30");
    const stream = session.attachStream();
    expect(await take(stream, 3)).toEqual([3, 4, 5]);
    await session.close("left");
  });

  it("bounds a standing delay: a reader 300 ms behind for over a second loses the oldest 100 ms, counted", async () => {
    const { session, connector } = await openFakeSession({ cloudMaxDelayMs: 200 });
    const { handlers } = connector.link.options;
    const stream = session.attachStream();
    const frame = () => handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    // The reader takes one 10 ms chunk per 10 ms, but starts 300 ms late: every chunk
    // waits 300 ms, a delay that stands.
    for (let i = 0; i < 30; i++) {
      frame();
      vi.advanceTimersByTime(10);
    }
    const delivered: number[] = [];
    for (let i = 0; i < 200; i++) {
      frame();
      delivered.push(...(await take(stream, 1)));
      vi.advanceTimersByTime(10);
    }
    // A second above the bound, then 10 chunks (the 100 ms above it) dropped at once;
    // after them each chunk waits 200 ms, within the bound: nothing more is dropped.
    expect(session.status().metadata.cloud_delay_dropped_ms).toBe("100");
    const skipped = delivered.findIndex((sequence, i) => sequence !== i + 1);
    expect(skipped).toBeGreaterThanOrEqual(100);
    expect(delivered[skipped]).toBe(skipped + 11);
    expect(delivered.slice(skipped)).toEqual(
      Array.from({ length: delivered.length - skipped }, (_, i) => skipped + 11 + i),
    );
    expect(session.status().metadata.cloud_dropped_ms).toBe("0");
    await session.close("left");
  });

  it("keeps a backlog queued before the stream attached whole, however old", async () => {
    const { session, connector } = await openFakeSession({ cloudMaxDelayMs: 200 });
    const { handlers } = connector.link.options;
    // 800 ms of audio with no stream (a handover's backlog), 3 s old when the stream comes.
    for (let i = 0; i < 80; i++) handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    vi.advanceTimersByTime(3_000);
    const stream = session.attachStream();
    // Read slowly: 10 ms apart, so the backlog drains over 800 ms.
    const delivered: number[] = [];
    for (let i = 0; i < 80; i++) {
      delivered.push(...(await take(stream, 1)));
      vi.advanceTimersByTime(10);
    }
    expect(delivered).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(session.status().metadata.cloud_delay_dropped_ms).toBe("0");
    await session.close("left");
  });

  it("with CLOUD_MAX_DELAY_MS 0 a standing delay is never cut", async () => {
    const { session, connector } = await openFakeSession({ cloudMaxDelayMs: 0 });
    const { handlers } = connector.link.options;
    const stream = session.attachStream();
    // 900 ms behind (within the harness's 1 s queue), and staying so.
    for (let i = 0; i < 90; i++) {
      handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
      vi.advanceTimersByTime(10);
    }
    const delivered: number[] = [];
    for (let i = 0; i < 150; i++) {
      handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
      delivered.push(...(await take(stream, 1)));
      vi.advanceTimersByTime(10);
    }
    expect(delivered).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(session.status().metadata.cloud_delay_dropped_ms).toBe("0");
    await session.close("left");
  });

  it("a resume replays what the broken stream sent after the cloud's last sequence", async () => {
    const { session, connector } = await openFakeSession({ replayMs: 1_000 });
    const { handlers } = connector.link.options;
    const frame = () => handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    const broken = session.attachStream();
    for (let i = 0; i < 4; i++) frame();
    expect(await take(broken, 4)).toEqual([1, 2, 3, 4]);
    broken.detach();
    frame();
    const resumed = session.attachStream({ resumeAfter: 2 });
    expect(resumed.resumed).toEqual({ nextSequence: 3, missed: 0 });
    expect(await take(resumed, 3)).toEqual([3, 4, 5]);
    await session.close("left");
  });

  it("a resume counts as missed what the replay buffer no longer holds", async () => {
    const { session, connector } = await openFakeSession({ replayMs: 20 });
    const { handlers } = connector.link.options;
    const broken = session.attachStream();
    for (let i = 0; i < 5; i++) handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    expect(await take(broken, 5)).toEqual([1, 2, 3, 4, 5]);
    const resumed = session.attachStream({ resumeAfter: 1 });
    expect(resumed.resumed).toEqual({ nextSequence: 4, missed: 2 });
    expect(await take(resumed, 2)).toEqual([4, 5]);
    await session.close("left");
  });

  it("a resume after a sequence this session never sent keeps the queue as it is", async () => {
    const { session, connector } = await openFakeSession({ replayMs: 1_000 });
    const { handlers } = connector.link.options;
    for (let i = 0; i < 3; i++) handlers.onAudioFrame(roomFrame(10), { identity: "g" }, 0);
    const stream = session.attachStream({ resumeAfter: 900 });
    expect(stream.resumed).toEqual({ nextSequence: 1, missed: 0 });
    expect(await take(stream, 3)).toEqual([1, 2, 3]);
    await session.close("left");
  });

  it("a newer stream replaces the attached one, which ends Aborted", async () => {
    const { session } = await openFakeSession();
    const old = session.attachStream();
    const pending = old.next();
    const current = session.attachStream();
    expect(describeEnd(old.signal.reason)).toEqual({
      message: "replaced by a newer StreamAudio stream for user user-1",
      code: "Aborted",
    });
    await expect(pending).rejects.toBe(old.signal.reason);
    expect(current.signal.aborted).toBe(false);
    expect(session.hasStream).toBe(true);
    await session.close("left");
  });

  it("closes the session after the grace period without a stream, not before", async () => {
    const { session, closed } = await openFakeSession({ streamGraceMs: 1_000 });
    const stream = session.attachStream();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(closed).toEqual([]);
    stream.detach();
    expect(session.hasStream).toBe(false);
    await vi.advanceTimersByTimeAsync(999);
    expect(closed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(closed).toEqual([session]);
    expect(session.closedBecause).toBe("left");
  });

  it("refuses a stream once the session is closing", async () => {
    const { session } = await openFakeSession();
    void session.close("left");
    expect(() => session.attachStream()).toThrow("the session of user user-1 is closing");
  });

  it("accepts an unannounced data packet only when the link accepted it", async () => {
    const { session, connector } = await openFakeSession();
    const { handlers } = connector.link.options;
    handlers.onData(new Uint8Array(320), { identity: "x", unannounced: true, accepted: false });
    handlers.onData(new Uint8Array(320), { identity: "y", unannounced: true, accepted: true });
    const { metadata } = session.status();
    expect(metadata.unannounced_packets_dropped).toBe("1");
    expect(metadata.unannounced_packets_accepted).toBe("1");
    await session.close("left");
  });
});
