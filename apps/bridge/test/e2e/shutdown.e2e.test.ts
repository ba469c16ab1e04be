import { EventEmitter } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  PlayAudioEvent_EventType as EventType,
  HealthCheckResponse_ServingStatus,
} from "@mentra/bridge-proto";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type LiveKitCredentials,
  listParticipantIdentities,
  mintToken,
  recordFault,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBridge } from "../../src/cli.js";
import type { BridgeServerAddress } from "../../src/server.js";
import { type AudioServer, startAudioServer } from "../support/audio-server.js";
import { tcpAddress } from "../support/tools.js";
import { encodeWav, toneFloats } from "../support/wav.js";
import { clientWithApiKey, uniqueRoom } from "./harness.js";
import { finalOf, playAudio } from "./play-audio-client.js";

// The bridge as `npm start` runs it (runBridge: config, pino logger, app, signals), against
// the real livekit-server of the rig, stopped by SIGTERM in the middle of a playback.

const gate = await e2eGate();
const API_KEY = "bridge-api-key-0123456789abcdef";

describe.skipIf(gate === "skip")("graceful shutdown on the real rig", () => {
  let rig: LiveKitRig;
  let creds: LiveKitCredentials;
  let audio: AudioServer;

  beforeAll(async () => {
    rig = await startLiveKit({ isolate: "on" });
    creds = { url: rig.url, apiKey: rig.apiKey, apiSecret: rig.apiSecret };
    audio = await startAudioServer();
  }, 60_000);
  afterAll(async () => {
    await audio?.close();
    await rig?.close();
  });

  it("SIGTERM: unready, new sessions Unavailable, the playback finishes, the bridge leaves, exit 0, no secret logged", async () => {
    const signals = new EventEmitter();
    let log = "";
    let onListening: (address: BridgeServerAddress) => void = () => {};
    const listening = new Promise<BridgeServerAddress>((resolve) => {
      onListening = resolve;
    });
    const exit = runBridge({
      argv: [],
      env: {
        BRIDGE_HOST: "127.0.0.1",
        BRIDGE_PORT: "0",
        LIVEKIT_URL: rig.url,
        LIVEKIT_API_KEY: rig.apiKey,
        LIVEKIT_API_SECRET: rig.apiSecret,
        BRIDGE_API_KEY: API_KEY,
        LOG_LEVEL: "debug",
        PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
        SHUTDOWN_TIMEOUT_MS: "8000",
      },
      stdout: () => {},
      stderr: (text) => {
        log += text;
      },
      signals,
      onListening: (address) => onListening(address),
    });
    const exitCode = exit.then((code) => ({ code, at: Date.now() }));
    try {
      const { url } = tcpAddress(await listening);
      const client = clientWithApiKey(url, API_KEY);
      const room = uniqueRoom("shutdown");
      const identity = "cloud-agent:u-shut";
      const token = await mintToken(creds, room, identity);
      const joined = await client.joinRoom({ userId: "u-shut", roomName: room, token });
      expect(joined.success).toBe(true);
      // A token signed with the wrong secret: LiveKit refuses it and the bridge logs why.
      const forged = await mintToken(
        { ...creds, apiSecret: "forged-secret-0123456789abcdef0123456789" },
        room,
        "cloud-agent:u-forged",
      );
      const refused = await client.joinRoom({ userId: "u-forged", roomName: room, token: forged });
      expect(refused.success).toBe(false);
      await waitFor(async () => (await listParticipantIdentities(creds, room)).includes(identity), {
        timeoutMs: 10_000,
        description: "the bridge to show up in the room",
      });

      const tone = encodeWav(
        toneFloats({ frequencyHz: 440, sampleRate: 16_000, channels: 1, durationMs: 2_500 }),
        { sampleRate: 16_000, channels: 1, encoding: "s16" },
      );
      const play = playAudio(client, {
        userId: "u-shut",
        requestId: "p1",
        audioUrl: audio.bytes("/tone.wav", tone, "audio/wav"),
      });
      await waitFor(() => play.events.length > 0, { timeoutMs: 10_000, description: "STARTED" });

      const signalledAt = Date.now();
      signals.emit("SIGTERM", "SIGTERM");
      // Draining, while the playback goes on.
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, checks: { draining: true } });
      expect((await client.healthCheck({})).status).toBe(
        HealthCheckResponse_ServingStatus.NOT_SERVING,
      );
      const late = await client
        .joinRoom({ userId: "u-late", roomName: room, token })
        .then(() => undefined, ConnectError.from);
      expect(late?.code).toBe(Code.Unavailable);
      expect(await listParticipantIdentities(creds, room)).toContain(identity);

      const { events, error } = await play.ended;
      expect(error).toBeUndefined();
      expect(finalOf(events)?.type).toBe(EventType.COMPLETED);
      const completedAt = events.at(-1)?.at ?? 0;
      const { code, at: exitedAt } = await exitCode;
      expect(code).toBe(0);
      // The drain waited for the playback: it finished after the signal, the exit after it.
      expect(completedAt).toBeGreaterThan(signalledAt);
      expect(exitedAt).toBeGreaterThanOrEqual(completedAt);
      expect(exitedAt - signalledAt).toBeLessThan(8_000);
      await waitFor(async () => (await listParticipantIdentities(creds, room)).length === 0, {
        timeoutMs: 10_000,
        description: "the bridge to leave the room",
      });
      const roomEmptyMs = Date.now() - signalledAt;

      const lines = log
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as { msg: string });
      expect(lines.map((l) => l.msg)).toEqual(
        expect.arrayContaining([
          "session joined",
          "stop signal received, draining",
          "bridge stopped",
        ]),
      );
      for (const secret of [token, forged, rig.apiSecret, API_KEY]) {
        expect(log).not.toContain(secret);
      }
      // JWT parts alone are not in the log either (a header or payload could leak the identity grants).
      expect(log).not.toContain(token.split(".")[2]);
      recordFault({
        kind: "fault",
        what: "SIGTERM to the bridge (runBridge, as `npm start` runs it) in the middle of a 2.5 s playback",
        expected:
          "at once unready (/readyz 503, HealthCheck NOT_SERVING) and new JoinRooms Unavailable; the playback completes; exit 0 after it, within 8 s of the signal; the bridge leaves the room; no secret or token in the log",
        observed: `/readyz ${ready.status}, HealthCheck NOT_SERVING, late JoinRoom ${late ? Code[late.code] : "OK"}; playback COMPLETED ${completedAt - signalledAt} ms after SIGTERM; exit ${code} ${exitedAt - signalledAt} ms after SIGTERM; room empty ${roomEmptyMs} ms after SIGTERM; ${lines.length} log lines, no secret in them`,
      });
    } finally {
      signals.emit("SIGTERM", "SIGTERM");
      await exit;
    }
  }, 60_000);
});
