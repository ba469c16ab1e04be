/**
 * The device farm's process (see device-farm.ts): simulated glasses as real rtc-node
 * participants, away from the process under test, driven over IPC.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { leBytes } from "./audio.js";
import {
  FARM_BLOCK_SAMPLES,
  type FarmCall,
  type FarmReply,
  type FarmRequest,
  type SendReport,
} from "./device-farm-protocol.js";
import { createDeviceSender, type DevicePacketFormat } from "./device-packets.js";
import { type AudioRecorder, joinParticipant, type TestParticipant } from "./participant.js";

interface Device {
  readonly participant: TestParticipant;
  readonly format: DevicePacketFormat;
  readonly reliable: boolean | undefined;
  sent: number;
  /** When each send began, and how long it took. */
  readonly sends: [number, number][];
}

const devices = new Map<string, Device>();
let recorders = new Map<string, AudioRecorder>();
let talking: Promise<void> | undefined;
let stopTalking = false;

async function talk(blocksPerPacket: number, maxMs: number): Promise<void> {
  const started = Date.now();
  const packetMs = (blocksPerPacket * FARM_BLOCK_SAMPLES) / 16;
  await Promise.all(
    [...devices.values()].map(async (device) => {
      const sender = createDeviceSender((p, o) => device.participant.sendData(p, o), {
        format: device.format,
        ...(device.reliable === undefined ? {} : { reliable: device.reliable }),
        packetMs,
        paced: false,
      });
      while (!stopTalking && Date.now() < started + maxMs) {
        const samples = new Int16Array(FARM_BLOCK_SAMPLES * blocksPerPacket).fill(1_000);
        for (let k = 0; k < blocksPerPacket; k++) {
          samples[k * FARM_BLOCK_SAMPLES] = (device.sent * blocksPerPacket + k) % 30_000;
        }
        const at = Date.now();
        await sender.send(leBytes(samples)).catch(() => {});
        device.sends.push([at, Date.now() - at]);
        device.sent++;
        await sleep(Math.max(0, started + device.sent * packetMs - Date.now()));
      }
    }),
  );
}

async function serve(request: FarmRequest): Promise<unknown> {
  switch (request.kind) {
    case "join": {
      const participant = await joinParticipant(request.creds, request.room, request.identity);
      devices.set(request.id, {
        participant,
        format: request.format ?? "phone",
        reliable: request.reliable,
        sent: 0,
        sends: [],
      });
      return undefined;
    }
    case "talk":
      talking ??= talk(request.blocksPerPacket, Math.min(request.maxMs, 300_000));
      return undefined;
    case "listen": {
      recorders = new Map();
      for (const [id, from] of Object.entries(request.from)) {
        const device = devices.get(id);
        if (device !== undefined) recorders.set(id, device.participant.recordAudio(from, 16_000));
      }
      const subscribed: Record<string, boolean> = {};
      await Promise.all(
        [...recorders].map(async ([id, recorder]) => {
          subscribed[id] = await Promise.race([
            recorder.subscribed.then(() => true),
            sleep(request.timeoutMs).then(() => false),
          ]);
        }),
      );
      return subscribed;
    }
    case "stopListening": {
      const heard: Record<string, Int16Array> = {};
      for (const [id, recorder] of recorders) heard[id] = await recorder.stop();
      recorders = new Map();
      // Heard: stop receiving. Subscribed tracks cost playout mixing every 10 ms each.
      for (const device of devices.values()) {
        for (const participant of device.participant.room.remoteParticipants.values()) {
          for (const publication of participant.trackPublications.values()) {
            publication.setSubscribed(false);
          }
        }
      }
      return heard;
    }
    case "sends": {
      const report: Record<string, SendReport> = {};
      for (const [id, device] of devices) {
        const within = device.sends.filter(([at]) => at >= request.fromMs && at < request.toMs);
        report[id] = { sent: device.sent, slowestMs: Math.max(0, ...within.map(([, ms]) => ms)) };
      }
      return report;
    }
    case "close":
      await close();
      return undefined;
  }
}

async function close(): Promise<void> {
  stopTalking = true;
  await talking;
  await Promise.allSettled([...devices.values()].map((device) => device.participant.close()));
  devices.clear();
}

process.on("message", (message: FarmCall) => {
  serve(message.request).then(
    (value) => process.send?.({ call: message.call, ok: true, value } satisfies FarmReply),
    (error: unknown) =>
      process.send?.({ call: message.call, ok: false, error: String(error) } satisfies FarmReply),
  );
});
// The parent gone (a crashed test run): leave the rooms and end.
process.on("disconnect", () => {
  void close().finally(() => process.exit(0));
});
