import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type Cleanups,
  joinParticipant,
  recordFault,
  runCleanups,
  type TestParticipant,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AudioFrame, type BridgeError, createBridgeClient } from "../../src/index.js";
import { type BridgeProcess, freePort, spawnBridge } from "./bridge-process.js";
import { joinClientAndDevice } from "./client-and-device.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

describe.skipIf(gate === "skip")("the client while livekit-server restarts", () => {
  let livekit: LiveKitRig;
  let bridge: BridgeProcess;
  const cleanups: Cleanups = [];

  beforeAll(async () => {
    livekit = await startLiveKit({ isolate: "on" });
    bridge = await spawnBridge(await freePort(), livekit);
  });
  afterEach(() => runCleanups(cleanups, { ignoreErrors: true }));
  afterAll(async () => {
    await bridge?.stop();
    await livekit?.close();
  });

  it("reports the disconnect with its reason, recovers, and device audio flows again", async () => {
    const client = createBridgeClient({ baseUrl: bridge.url });
    const userId = "u-lk-restart";
    const room = `client-lk-restart-${process.pid}`;
    const { joined: session, device: glasses } = await joinClientAndDevice(
      client,
      livekit,
      cleanups,
      userId,
      room,
    );
    const reconnecting: BridgeError[] = [];
    const reconnected: number[] = [];
    session.on("reconnecting", ({ error }) => reconnecting.push(error));
    session.on("reconnected", ({ downtimeMs }) => reconnected.push(downtimeMs));
    const frames: (AudioFrame & { at: number })[] = [];
    const reading = (async () => {
      for await (const frame of session.audio) frames.push({ ...frame, at: Date.now() });
    })();
    let device: TestParticipant = glasses;
    const packet = (value: number) => new Int16Array(320).fill(value);
    for (let i = 0; i < 250 && frames.length < 10; i++) {
      await device.sendPcm(packet(1_000));
      await sleep(20);
    }
    expect(frames.length).toBeGreaterThanOrEqual(10);

    const restartAt = Date.now();
    await livekit.restart();
    const upAt = Date.now();
    // The glasses come back too (a new participant: the old one's connection is gone).
    await device.close().catch(() => {});
    device = await joinParticipant(livekit, room, "glasses");
    cleanups.push(() => device.close());
    // Their audio reaches the cloud again.
    const before = frames.length;
    for (let i = 0; i < 250 && !frames.slice(before).some((f) => f.samples[0] === 2_000); i++) {
      await device.sendPcm(packet(2_000));
      await sleep(20);
    }
    const back = frames.slice(before).find((f) => f.samples[0] === 2_000);
    expect(back).toBeDefined();
    const status = await session.status();
    await session.leave();
    await reading;

    // Two ways a restart can go for the bridge's participant: LiveKit's leave (server
    // shutdown) ends the session's stream, and the client reports it and comes back; or
    // rtc-node repairs the connection by itself, and the cloud's stream never breaks.
    if (reconnecting.length > 0) {
      expect(reconnecting[0]?.kind).toBe("unavailable");
      expect(reconnecting[0]?.message).toMatch(/server_shutdown|network/);
      expect(reconnected.length).toBeGreaterThanOrEqual(1);
    }
    expect(status.connected).toBe(true);
    const recoveryMs = (back?.at ?? Number.NaN) - upAt;
    console.log(
      `[client] LiveKit restart took ${upAt - restartAt} ms; device audio at the cloud ${recoveryMs} ms after LiveKit was back`,
    );
    recordFault({
      kind: "fault",
      what: "livekit-server restarted under a client session (the device re-joins after it)",
      expected:
        "the client reports the disconnect with its reason, recovers by itself, and device audio flows again",
      observed: `${reconnecting.length > 0 ? `reconnecting: ${reconnecting[0]?.kind} "${reconnecting[0]?.message.slice(0, 90)}"; reconnected after ${reconnected[0]} ms` : "the bridge's connection was repaired by rtc-node: the stream never broke"}; device audio at the cloud ${recoveryMs} ms after LiveKit was back (restart took ${upAt - restartAt} ms)`,
      recoveryMs,
    });
  });
});
