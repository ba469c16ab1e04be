import { Code, ConnectError } from "@connectrpc/connect";
import { BridgeErrorDetailSchema, BridgeErrorReason } from "@mentra/bridge-proto";
import { afterEach, describe, expect, it } from "vitest";
import { type BridgeSession, createBridgeClient, type SessionEvents } from "../src/index.js";
import { FakeBridge } from "./support/fake-bridge.js";

/** The error the bridge ends a stream with when another participant took its identity. */
const duplicateIdentity = (message: string) =>
  new ConnectError(message, Code.Aborted, undefined, [
    { desc: BridgeErrorDetailSchema, value: { reason: BridgeErrorReason.DUPLICATE_IDENTITY } },
  ]);

/** Polls `check` every 5 ms for up to 2 s (expect.poll is vitest-only; these tests also run on Bun). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

const noJitter = { initialMs: 10, maxMs: 40, random: () => 0.5 };

function le(samples: number[]): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  samples.forEach((s, i) => {
    view.setInt16(i * 2, s, true);
  });
  return bytes;
}

function collect<K extends keyof SessionEvents>(session: BridgeSession, event: K) {
  const seen: Parameters<SessionEvents[K]>[] = [];
  const listener = (...args: Parameters<SessionEvents[K]>) => {
    seen.push(args);
  };
  session.on(event, listener as unknown as SessionEvents[K]);
  return seen;
}

describe("a session against an in-memory bridge", () => {
  const open: BridgeSession[] = [];
  afterEach(async () => {
    for (const session of open.splice(0)) await session.leave();
  });

  async function start(
    bridge: FakeBridge,
    options: Partial<Parameters<typeof createBridgeClient>[0]> = {},
  ) {
    const client = createBridgeClient({
      baseUrl: "http://unused",
      transport: bridge.transport,
      backoff: noJitter,
      ...options,
    });
    const session = await client.join({ userId: "u1", roomName: "r1", targetIdentity: "glasses" });
    open.push(session);
    return { client, session };
  }

  it("carries audio both ways: send() as LE chunks, room audio as Int16 frames", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const stream = await bridge.waitForStreams(1);
    session.send(new Int16Array([1, -2, 300]), { trackId: 2, sampleRate: 48_000, channels: 1 });
    await stream.waitForAudio(1);
    expect(stream.received[0]?.userId).toBe("u1");
    const chunk = stream.received.find((c) => c.pcmData.byteLength > 0);
    expect([chunk?.trackId, chunk?.sampleRate, chunk?.channels]).toEqual([2, 48_000, 1]);
    expect(Array.from(chunk?.pcmData ?? [])).toEqual(Array.from(le([1, -2, 300])));

    stream.push({ pcmData: le([5, 6, -7, 8]), timestampMs: 1234n });
    const iterator = session.audio[Symbol.asyncIterator]();
    const frame = await iterator.next();
    expect(frame.done).toBe(false);
    expect(Array.from(frame.value?.samples ?? [])).toEqual([5, 6, -7, 8]);
    expect([frame.value?.sampleRate, frame.value?.channels, frame.value?.timestampMs]).toEqual([
      16_000, 1, 1234,
    ]);
  });

  it("after a stream blip asks GetStatus and reopens the stream without re-joining", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const reconnected = collect(session, "reconnected");
    const reconnecting = collect(session, "reconnecting");
    (await bridge.waitForStreams(1)).end(new ConnectError("blip", Code.Unavailable));
    await bridge.waitForStreams(2);
    expect(bridge.calls).toEqual(["JoinRoom", "AudioSession", "GetStatus", "AudioSession"]);
    expect(reconnecting[0]?.[0].error.kind).toBe("unavailable");
    expect(reconnected[0]?.[0]).toMatchObject({ attempts: 1, rejoined: false });
    expect(session.stats().reconnects).toBe(1);
  });

  it("re-joins with a fresh token from getToken when the bridge lost the room", async () => {
    const bridge = new FakeBridge();
    let minted = 0;
    const { session } = await start(bridge, { getToken: async () => `token-${++minted}` });
    const reconnected = collect(session, "reconnected");
    bridge.connected = false;
    (await bridge.waitForStreams(1)).end(
      new ConnectError("lost room: server_shutdown", Code.Unavailable),
    );
    await bridge.waitForStreams(2);
    expect(bridge.tokens).toEqual(["token-1", "token-2"]);
    expect(reconnected[0]?.[0]).toMatchObject({ rejoined: true });
    expect(session.stats().rejoins).toBe(1);
  });

  it("keeps retrying with backoff while the bridge is down, then recovers", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const reconnecting = collect(session, "reconnecting");
    let failures = 3;
    const original = bridge.transport;
    void original;
    bridge.connected = true;
    // The first three GetStatus calls fail as if the bridge were unreachable.
    const realCalls = bridge.calls;
    const push = realCalls.push.bind(realCalls);
    realCalls.push = (...items: string[]) => {
      if (items[0] === "GetStatus" && failures-- > 0)
        throw new ConnectError("down", Code.Unavailable);
      return push(...items);
    };
    (await bridge.waitForStreams(1)).end(new ConnectError("gone", Code.Unavailable));
    await bridge.waitForStreams(2);
    expect(reconnecting.map(([info]) => info.attempt)).toEqual([1, 2, 3, 4]);
    expect(session.closed).toBe(false);
  });

  it("buffers audio sent during an outage up to sendBufferMs, dropping and counting the oldest", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge, {
      sendBufferMs: 100,
      backoff: { initialMs: 200, maxMs: 200, random: () => 0.99 },
    });
    // The bridge goes down: the first check fails at once, the retry waits 200 ms.
    bridge.down = true;
    (await bridge.waitForStreams(1)).end(new ConnectError("gone", Code.Unavailable));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Ten 20 ms chunks at 16 kHz (320 samples each), marked by their first sample.
    for (let i = 0; i < 10; i++) {
      const samples = new Int16Array(320);
      samples[0] = i;
      session.send(samples);
    }
    expect(session.stats()).toMatchObject({ sendDroppedMs: 100, sendQueuedMs: 100 });
    bridge.down = false;
    const second = await bridge.waitForStreams(2);
    await second.waitForAudio(5);
    const firsts = second.received
      .filter((c) => c.pcmData.byteLength > 0)
      .map((c) => new DataView(c.pcmData.buffer, c.pcmData.byteOffset).getInt16(0, true));
    expect(firsts).toEqual([5, 6, 7, 8, 9]);
  });

  it("reports a duplicate identity as final, unless told to recover", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const disconnected = collect(session, "disconnected");
    (await bridge.waitForStreams(1)).end(
      duplicateIdentity("another participant joined … (duplicate identity)"),
    );
    await until(() => session.closed);
    expect(disconnected[0]?.[0].kind).toBe("identity-taken");
    expect(bridge.calls).toEqual(["JoinRoom", "AudioSession"]);
    expect(session.stats().openResources).toBe(0);

    const other = new FakeBridge();
    const recovering = await start(other, { recoverFromIdentityTaken: true });
    other.connected = false;
    (await other.waitForStreams(1)).end(duplicateIdentity("(duplicate identity)"));
    await other.waitForStreams(2);
    expect(other.calls).toEqual([
      "JoinRoom",
      "AudioSession",
      "GetStatus",
      "JoinRoom",
      "AudioSession",
    ]);
    expect(recovering.session.closed).toBe(false);
  });

  it("its audio watchdog notices a lost room during silence and re-joins", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge, { watchdogMs: 100, livenessMs: 0 });
    const watchdog = collect(session, "watchdog");
    await bridge.waitForStreams(1);
    bridge.connected = false; // the bridge lost the room; the stream stays open and silent
    await bridge.waitForStreams(2);
    expect(watchdog[0]?.[0]).toMatchObject({ connected: false, recovered: true });
    expect(watchdog[0]?.[0].silentMs).toBeGreaterThanOrEqual(100);
    expect(bridge.calls.filter((c) => c === "JoinRoom")).toHaveLength(2);
  });

  it("reports a refused chunk as an error event and reopens the stream", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const errors = collect(session, "error");
    (await bridge.waitForStreams(1)).end(
      new ConnectError("pcm_data: odd length", Code.InvalidArgument),
    );
    await bridge.waitForStreams(2);
    expect(errors[0]?.[0]).toMatchObject({ kind: "invalid-argument", code: Code.InvalidArgument });
    expect(bridge.calls).toEqual(["JoinRoom", "AudioSession", "AudioSession"]);
  });

  it("leave() calls LeaveRoom, ends the audio iterator and releases every listener and timer", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge, { watchdogMs: 1_000 });
    session.on("reconnecting", () => {});
    session.on("error", () => {});
    await bridge.waitForStreams(1);
    // 2 listeners, the watchdog, the liveness probe, the stream
    expect(session.stats().openResources).toBe(5);
    const reading = (async () => {
      const frames = [];
      for await (const frame of session.audio) frames.push(frame);
      return frames.length;
    })();
    await session.leave("done");
    expect(await reading).toBe(0);
    expect(bridge.calls.at(-1)).toBe("LeaveRoom");
    expect(session.stats().openResources).toBe(0);
    expect(session.closed).toBe(true);
    expect(() => session.send(new Int16Array(2))).toThrow(/closed/);
  });

  it("a playback cancelled by leave() ends with a cancelled error and no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const bridge = new FakeBridge();
      const { session } = await start(bridge);
      const playback = session.play("https://example.invalid/a.mp3", { requestId: "p1" });
      const first = await playback.events[Symbol.asyncIterator]().next();
      expect(first.value).toMatchObject({ type: "started", requestId: "p1" });
      expect(session.stats().openResources).toBeGreaterThan(0);
      await session.leave();
      await expect(playback.done).rejects.toMatchObject({ kind: "cancelled" });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      expect(session.stats().openResources).toBe(0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("runs 40 playbacks at once without a listener-leak warning, and releases them all", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      const bridge = new FakeBridge();
      const { session } = await start(bridge);
      const idle = session.stats().openResources;
      const playbacks = Array.from({ length: 40 }, (_, i) =>
        session.play("https://example.invalid/a.mp3", { requestId: `p${i}` }),
      );
      for (const playback of playbacks) {
        const first = await playback.events[Symbol.asyncIterator]().next();
        expect(first.value).toMatchObject({ type: "started", requestId: playback.requestId });
      }
      expect(session.stats().openResources).toBe(idle + 40);
      for (const playback of playbacks) playback.cancel();
      for (const playback of playbacks) {
        await expect(playback.done).rejects.toMatchObject({ kind: "cancelled" });
      }
      await until(() => session.stats().openResources === idle);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("resumes after the last sequence received following a blip, and afresh after a re-join", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const first = await bridge.waitForStreams(1);
    expect(first.start?.resumeAfterSequence).toBeUndefined();
    first.push({ pcmData: le([1, 2]) });
    first.push({ pcmData: le([3, 4]) });
    await until(() => session.stats().lastSequence === 2);
    first.end(new ConnectError("blip", Code.Unavailable));
    const second = await bridge.waitForStreams(2);
    await until(() => second.start !== undefined);
    expect(second.start?.resumeAfterSequence).toBe(2n);
    // The bridge lost the session: the client joins again and starts afresh.
    bridge.connected = false;
    second.end(new ConnectError("lost room: server_shutdown", Code.Unavailable));
    const third = await bridge.waitForStreams(3);
    await until(() => third.start !== undefined);
    expect(third.start?.resumeAfterSequence).toBeUndefined();
    expect(session.stats().rejoins).toBe(1);
  });

  it("mark() resolves once the bridge reports the mark played, in order with the audio", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const stream = await bridge.waitForStreams(1);
    const idle = session.stats().openResources;
    session.send(new Int16Array(1_600), { trackId: 2 });
    const played = session.mark("end-of-sentence", { trackId: 2 });
    expect(session.stats().openResources).toBe(idle + 1);
    expect(await played).toEqual({
      played: true,
      name: "end-of-sentence",
      trackId: 2,
      positionMs: 100,
    });
    expect(stream.controls).toEqual([{ kind: "mark", trackId: 2, name: "end-of-sentence" }]);
    expect(session.stats().openResources).toBe(idle);
  });

  it("clear() drops what the client still holds for the track and what the bridge had", async () => {
    const bridge = new FakeBridge();
    bridge.connected = true;
    const { session } = await start(bridge);
    const stream = await bridge.waitForStreams(1);
    session.send(new Int16Array(3_200), { trackId: 2 });
    await stream.waitForAudio(1);
    // The bridge goes away for a moment; audio and a mark sent meanwhile wait in the client.
    const reconnecting = collect(session, "reconnecting");
    bridge.down = true;
    stream.end(new ConnectError("blip", Code.Unavailable));
    await until(() => reconnecting.length > 1);
    session.send(new Int16Array(1_600), { trackId: 2 });
    const dropped = session.mark("never", { trackId: 2 });
    session.send(new Int16Array(800), { trackId: 0 });
    const cleared = session.clear(2);
    bridge.down = false;
    expect(await dropped).toEqual({ played: false, name: "never", trackId: 2, reason: "cleared" });
    const outcome = await cleared;
    expect(outcome).toEqual({ trackId: 2, playedMs: 200, droppedMs: 100, marksDropped: ["never"] });
    const second = await bridge.waitForStreams(2);
    // The clear went first; the other track's audio was kept.
    await until(() => second.received.some((c) => c.trackId === 0 && c.pcmData.byteLength > 0));
    expect(second.controls).toEqual([{ kind: "clear", trackId: 2, name: "" }]);
    expect(second.received.filter((c) => c.trackId === 2 && c.pcmData.byteLength > 0)).toEqual([]);
  });

  it("ends pending marks and clears when the session ends", async () => {
    const bridge = new FakeBridge();
    const { session } = await start(bridge);
    const stream = await bridge.waitForStreams(1);
    stream.end(new ConnectError("blip", Code.Unavailable));
    const mark = session.mark("m");
    await session.leave();
    expect(await mark).toMatchObject({ played: false, reason: "the session ended" });
    expect(session.stats().openResources).toBe(0);
  });

  it("turns success=false into a join-failed error and honours an aborted signal", async () => {
    const bridge = new FakeBridge();
    bridge.joinError = "could not join the room at ws://x: 401";
    const client = createBridgeClient({ baseUrl: "http://unused", transport: bridge.transport });
    await expect(client.join({ userId: "u1", roomName: "r1" })).rejects.toMatchObject({
      name: "BridgeError",
      kind: "join-failed",
      message: "could not join the room at ws://x: 401",
    });
    const aborted = AbortSignal.abort();
    await expect(
      client.join({ userId: "u1", roomName: "r1" }, { signal: aborted }),
    ).rejects.toMatchObject({ kind: "cancelled" });
  });
});
