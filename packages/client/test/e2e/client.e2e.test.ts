import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type Cleanups,
  dominantFrequency,
  mintToken,
  recordFault,
  runCleanups,
  sineTone,
  trimSilence,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type AudioFrame,
  type BridgeProtocol,
  type BridgeSession,
  createBridgeClient,
} from "../../src/index.js";
import { type BridgeProcess, freePort, spawnBridge } from "./bridge-process.js";
import { joinClientAndDevice } from "./client-and-device.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads frames from a session into an array until stopped. */
function reader(session: BridgeSession) {
  const frames: (AudioFrame & { arrivedAt: number })[] = [];
  const done = (async () => {
    for await (const frame of session.audio) frames.push({ ...frame, arrivedAt: Date.now() });
  })();
  return { frames, done };
}

function samplesOf(frames: readonly AudioFrame[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.samples.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame.samples, offset);
    offset += frame.samples.length;
  }
  return out;
}

describe.skipIf(gate === "skip")("the client against the real bridge process and LiveKit", () => {
  let livekit: LiveKitRig;
  let bridge: BridgeProcess;
  let port: number;
  const cleanups: Cleanups = [];

  beforeAll(async () => {
    livekit = await startLiveKit({ isolate: "on" });
    port = await freePort();
    bridge = await spawnBridge(port, livekit);
  });
  afterEach(() => runCleanups(cleanups, { ignoreErrors: true }));
  afterAll(async () => {
    await bridge?.stop();
    await livekit?.close();
  });

  const creds = () => ({ url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret });

  it.each(["grpc", "connect", "grpc-web"] as const)(
    "carries audio both ways over %s",
    async (protocol: BridgeProtocol) => {
      const client = createBridgeClient({ baseUrl: bridge.url, protocol });
      const userId = `u-${protocol}`;
      const room = `client-${protocol}-${process.pid}`;
      const { joined: session, device } = await joinClientAndDevice(
        client,
        creds(),
        cleanups,
        userId,
        room,
      );
      const received = reader(session);

      const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 200 });
      await device.sendPcm(tone);
      for (let i = 0; i < 100 && samplesOf(received.frames).length < tone.length; i++)
        await sleep(20);
      expect(Array.from(samplesOf(received.frames))).toEqual(Array.from(tone));

      const recorder = device.recordAudio(`cloud-agent:${userId}`, 16_000);
      const reply = sineTone({ frequencyHz: 880, sampleRate: 16_000, durationMs: 500 });
      for (let offset = 0; offset < reply.length; offset += 320) {
        session.send(reply.subarray(offset, offset + 320), { trackId: 2 });
      }
      await recorder.subscribed;
      await sleep(900);
      const heard = await recorder.stop();
      expect(Math.abs(dominantFrequency(trimSilence(heard, 16_000), 16_000) - 880)).toBeLessThan(3);
      expect((await session.status()).connected).toBe(true);
    },
  );

  it("fails fast with `unavailable` when no bridge listens", async () => {
    const client = createBridgeClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    const started = Date.now();
    await expect(client.join({ userId: "u-none", roomName: "r" })).rejects.toMatchObject({
      name: "BridgeError",
      kind: "unavailable",
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("serves many sessions on one client", async () => {
    const client = createBridgeClient({ baseUrl: bridge.url });
    cleanups.push(() => client.close());
    const sessions = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        client.join({ userId: `u-many-${i}`, roomName: `client-many-${i}-${process.pid}` }),
      ),
    );
    const statuses = await Promise.all(sessions.map((s) => s.status()));
    expect(statuses.map((s) => s.connected)).toEqual(Array(8).fill(true));
    expect((await client.health()).activeSessions).toBe(8);
    await client.close();
    expect(sessions.map((s) => s.closed)).toEqual(Array(8).fill(true));
    expect(sessions.map((s) => s.stats().openResources)).toEqual(Array(8).fill(0));
    expect((await client.health()).activeSessions).toBe(0);
  });

  it("survives a SIGKILLed bridge: device audio flows again soon after the new one listens", async () => {
    const room = `client-crash-${process.pid}`;
    const userId = "u-crash";
    const client = createBridgeClient({
      baseUrl: bridge.url,
      keepaliveMs: 1_000,
      getToken: (user, roomName) => mintToken(creds(), roomName, `cloud-agent:${user}`, 600),
    });
    const { joined: session, device } = await joinClientAndDevice(
      client,
      creds(),
      cleanups,
      userId,
      room,
    );
    const received = reader(session);
    const reconnected: { rejoined: boolean }[] = [];
    session.on("reconnected", (info) => reconnected.push(info));

    // The device talks all along: a 20 ms packet every 20 ms, numbered by its first sample.
    let talking = true;
    let sent = 0;
    const talk = (async () => {
      const until = Date.now() + 20_000;
      while (talking && Date.now() < until) {
        const packet = new Int16Array(320).fill(1_000);
        packet[0] = sent++ % 30_000;
        await device.sendPcm(packet).catch(() => {});
        await sleep(20);
      }
    })();
    cleanups.push(async () => {
      talking = false;
      await talk;
    });
    for (let i = 0; i < 100 && received.frames.length < 10; i++) await sleep(20);
    expect(received.frames.length).toBeGreaterThanOrEqual(10);

    await bridge.stop("SIGKILL");
    await sleep(500);
    bridge = await spawnBridge(port, livekit);
    const listeningAt = Date.now();
    const before = received.frames.length;
    for (let i = 0; i < 250 && received.frames.length <= before; i++) await sleep(20);
    const firstAudioAfter = received.frames[before]?.arrivedAt ?? Number.NaN;
    const recoveryMs = firstAudioAfter - listeningAt;
    console.log(
      `[client] device audio flowed again ${recoveryMs} ms after the restarted bridge listened`,
    );
    expect(recoveryMs).toBeLessThan(2_000);
    expect(reconnected.some((r) => r.rejoined)).toBe(true);
    const connected = (await session.status()).connected;
    expect(connected).toBe(true);
    recordFault({
      kind: "fault",
      what: "Bridge process SIGKILLed under a client session carrying device audio; a new bridge starts on the same port 500 ms later",
      expected:
        "the client reconnects and rejoins by itself (getToken); device audio reaches the session again within 2 s of the new bridge listening; the session reports connected",
      observed: `device audio flowed again ${recoveryMs} ms after the restarted bridge listened; ${reconnected.length} reconnected event(s), rejoined: ${reconnected.some((r) => r.rejoined)}; connected=${connected}; ${received.frames.length - before} frames since the new bridge listened`,
      recoveryMs,
    });
  });

  it("leave() during a reconnect ends everything at once", async () => {
    const other = await spawnBridge(await freePort(), livekit);
    const client = createBridgeClient({
      baseUrl: other.url,
      backoff: { initialMs: 200 },
      livenessMs: 1_000,
    });
    const session = await client.join({
      userId: "u-leave",
      roomName: `client-leave-${process.pid}`,
    });
    const reconnecting = new Promise<void>((resolve) =>
      session.on("reconnecting", () => resolve()),
    );
    await other.stop("SIGKILL");
    await reconnecting;
    const started = Date.now();
    await session.leave();
    const leaveMs = Date.now() - started;
    expect(leaveMs).toBeLessThan(1_500);
    expect(session.closed).toBe(true);
    expect(session.stats().openResources).toBe(0);
    recordFault({
      kind: "fault",
      what: "leave() called while the client is reconnecting to a SIGKILLed bridge",
      expected: "leave() returns within 1.5 s, the session is closed and holds no resources",
      observed: `leave() returned after ${leaveMs} ms; closed=${session.closed}; ${session.stats().openResources} open resources`,
    });
  });
});
