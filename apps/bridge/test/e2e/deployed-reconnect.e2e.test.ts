import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type * as grpc from "@grpc/grpc-js";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  audibleMs,
  dominantFrequency,
  joinParticipant,
  mintToken,
  sineTone,
  startAndTime,
  type TestParticipant,
  type TimedStart,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnyClient, deployedClient, unary } from "../support/deployed-client.js";
import { uniqueRoom } from "./harness.js";

// The deployed cloud's own recovery, simulated exactly (CONTRACT.md): grpc-js over
// unix:$LIVEKIT_GRPC_SOCKET, one channel for the process; JoinRoom with a token it minted,
// StreamAudio opened with an empty 16 kHz mono chunk; on a stream error it waits 2 s and
// tries once: LeaveRoom (answer ignored), JoinRoom, StreamAudio. If that try fails the user
// stays deaf. The bridge is the built dist/main.js, SIGKILLed and started again as the
// container's supervisor would; the device is a real rtc-node participant publishing a tone.

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const gate = await e2eGate();
const TONE_HZ = 523;
const RETRY_DELAY_MS = 2_000;
const RUNS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Duplex = grpc.ClientDuplexStream<object, { pcm_data: Buffer; sample_rate: number }>;

/** What one StreamAudio of the simulated cloud received, with arrival times. */
interface Received {
  readonly chunks: { readonly at: number; readonly pcm: Buffer }[];
}

/** The deployed cloud's session of one user, with its one-try recovery. */
interface CloudSession {
  /** Every stream it opened, the first and the one retry. */
  readonly streams: Received[];
  /** Resolves with the outcome of the retry after the next stream error. */
  nextRecovery(): Promise<{ joined: boolean; error?: string; streamOpenedAt: number }>;
  close(): void;
}

function openStream(client: AnyClient, userId: string, into: Received, onError: () => void) {
  const call = client.StreamAudio() as Duplex;
  call.on("data", (chunk) => into.chunks.push({ at: Date.now(), pcm: chunk.pcm_data }));
  call.on("error", onError);
  call.write({ user_id: userId, sample_rate: 16_000, channels: 1, pcm_data: Buffer.alloc(0) });
  return call;
}

async function startCloudSession(
  client: AnyClient,
  join: () => object,
  userId: string,
): Promise<CloudSession> {
  const streams: Received[] = [];
  let call: Duplex | undefined;
  let closed = false;
  let recovered: (outcome: { joined: boolean; error?: string; streamOpenedAt: number }) => void =
    () => {};
  const joined = await unary<{ success: boolean; error: string }>(client, "JoinRoom", join());
  expect(joined).toMatchObject({ success: true, error: "" });
  const onError = () => {
    if (closed) return;
    // As deployed: wait 2 s, then one try.
    setTimeout(async () => {
      await unary(client, "LeaveRoom", { user_id: userId, reason: "reconnect" }).catch(() => {});
      const answer = await unary<{ success: boolean; error: string }>(
        client,
        "JoinRoom",
        join(),
        10_000,
      ).catch((error: Error) => ({ success: false, error: error.message }));
      if (!answer.success) {
        recovered({ joined: false, error: answer.error, streamOpenedAt: Date.now() });
        return;
      }
      const received: Received = { chunks: [] };
      streams.push(received);
      // A second error stays unanswered here: one try per error, and this test kills once per run.
      call = openStream(client, userId, received, onError);
      recovered({ joined: true, streamOpenedAt: Date.now() });
    }, RETRY_DELAY_MS);
  };
  const first: Received = { chunks: [] };
  streams.push(first);
  call = openStream(client, userId, first, onError);
  return {
    streams,
    nextRecovery: () =>
      new Promise((resolve) => {
        recovered = resolve;
      }),
    close() {
      closed = true;
      call?.cancel();
    },
  };
}

function samplesOf(chunks: readonly { readonly pcm: Buffer }[]): Int16Array {
  const bytes = Buffer.concat(chunks.map((chunk) => chunk.pcm));
  return new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2));
}

describe.skipIf(gate === "skip")(
  "the deployed cloud client's one-try reconnect over the socket",
  () => {
    let rig: LiveKitRig;
    let device: TestParticipant | undefined;
    let bridge: TimedStart | undefined;
    let client: AnyClient | undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bridge-reconnect-"));
    const socketPath = path.join(dir, "livekit-bridge.sock");

    beforeAll(async () => {
      rig = await startLiveKit({ isolate: "on" });
    }, 30_000);
    afterAll(async () => {
      client?.close();
      await bridge?.stop();
      await device?.close();
      await rig?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    const startBridge = () =>
      startAndTime({
        command: process.execPath,
        args: [MAIN],
        env: {
          PATH: process.env.PATH,
          LIVEKIT_GRPC_SOCKET: socketPath,
          LIVEKIT_URL: rig.url,
          LIVEKIT_API_KEY: rig.apiKey,
          LIVEKIT_API_SECRET: rig.apiSecret,
          LOG_LEVEL: "warn",
        },
        target: { socketPath },
      });

    it(`gets the device's tone back on its single try after SIGKILL and restart, ${RUNS} times`, async () => {
      const creds = { url: rig.url, apiKey: rig.apiKey, apiSecret: rig.apiSecret };
      const room = uniqueRoom("deployed-reconnect");
      const userId = "u-deployed-reconnect";
      device = await joinParticipant(creds, room, "glasses");
      // The device keeps talking across the bridge's restarts: long enough for every run
      // (about 5 s each), and the test waits for it to end (publishPcm plays in real time).
      const tone = sineTone({ frequencyHz: TONE_HZ, sampleRate: 48_000, durationMs: 30_000 });
      const talking = device.publishPcm(tone, { sampleRate: 48_000 }).catch(() => {});

      bridge = await startBridge();
      client = deployedClient(`unix:${socketPath}`);
      // The cloud mints its own token; the identity is the bridge's usual one.
      const token = await mintToken(creds, room, `cloud-agent:${userId}`);
      const join = () => ({
        user_id: userId,
        room_name: room,
        token,
        livekit_url: rig.url,
        target_identity: "glasses",
      });
      const session = await startCloudSession(client, join, userId);
      const figures: string[] = [];
      try {
        const firstAudio = Date.now();
        while (samplesOf(session.streams[0]?.chunks ?? []).length < 16_000) {
          expect(Date.now() - firstAudio).toBeLessThan(10_000);
          await sleep(100);
        }
        for (let run = 1; run <= RUNS; run++) {
          const recovery = session.nextRecovery();
          const killedAt = Date.now();
          await bridge.stop("SIGKILL");
          bridge = await startBridge();
          const servingAfterMs = Date.now() - killedAt;
          const outcome = await recovery;
          expect(outcome, `run ${run}: the one try failed (${outcome.error})`).toMatchObject({
            joined: true,
          });
          const stream = session.streams[run];
          expect(stream).toBeDefined();
          // One second of audio after the try, checked by content.
          const deadline = Date.now() + 10_000;
          while (samplesOf(stream?.chunks ?? []).length < 16_000 + 8_000) {
            expect(Date.now(), `run ${run}: no audio after the retry`).toBeLessThan(deadline);
            await sleep(100);
          }
          const firstChunkAt = stream?.chunks[0]?.at ?? 0;
          // Skip the first half second (the decoder starting), judge the next second.
          const samples = samplesOf(stream?.chunks ?? []).subarray(8_000, 24_000);
          const heard = dominantFrequency(samples, 16_000);
          expect(Math.abs(heard - TONE_HZ), `run ${run}: heard ${heard} Hz`).toBeLessThan(5);
          expect(audibleMs(samples, 16_000)).toBeGreaterThan(900);
          figures.push(
            `run ${run}: bridge serving ${servingAfterMs} ms after SIGKILL (spawn → HealthCheck ${Math.round(bridge.ms)} ms), audio back ${firstChunkAt - killedAt} ms after it (retry at ${RETRY_DELAY_MS} ms), ${Math.round(heard)} Hz`,
          );
        }
      } finally {
        process.stdout.write(`${figures.join("\n")}\n`);
        session.close();
        await device.close();
        await talking;
      }
      expect(figures).toHaveLength(RUNS);
    }, 120_000);
  },
);
