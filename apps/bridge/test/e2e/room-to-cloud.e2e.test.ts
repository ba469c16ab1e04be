import { PcmByteOrder } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import {
  audibleMs,
  dominantFrequency,
  sineTone,
  type TestParticipant,
  trimSilence,
} from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { beBytes, type CloudStream, leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";

const gate = await e2eGate();
const PACKET_SAMPLES = 320; // 20 ms at 16 kHz

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `samples` as 20 ms data packets, paced in real time. */
async function sendAsPackets(
  device: TestParticipant,
  samples: Int16Array,
  encode: (s: Int16Array) => Uint8Array,
) {
  const start = Date.now();
  for (let offset = 0, i = 0; offset < samples.length; offset += PACKET_SAMPLES, i++) {
    await device.sendData(encode(samples.subarray(offset, offset + PACKET_SAMPLES)));
    const due = start + (i + 1) * 20 - Date.now();
    if (due > 0) await sleep(due);
  }
}

describe.skipIf(gate === "skip")("room → cloud through the bridge (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  async function setup(userId: string, byteOrder: PcmByteOrder, target = "glasses") {
    const { room, device, bridgeIdentity } = await joinUserAndDevice(rig, cleanups, userId, {
      targetIdentity: target,
      pcmByteOrder: byteOrder,
    });
    expect(bridgeIdentity).toBe(`cloud-agent:${userId}`);
    const stream: CloudStream = openCloudStream(rig.client, userId);
    cleanups.push(() => stream.cancel());
    return { room, device, stream };
  }

  it.each([
    ["little-endian, declared", PcmByteOrder.LITTLE, leBytes],
    ["big-endian, declared", PcmByteOrder.BIG, beBytes],
    ["big-endian, detected (auto)", PcmByteOrder.AUTO, beBytes],
    ["little-endian, detected (auto)", PcmByteOrder.AUTO, leBytes],
  ] as const)("delivers data-packet PCM bit-exact: %s", async (_name, order, encode) => {
    const userId = `u-packets-${order}-${encode === leBytes ? "le" : "be"}`;
    const { stream, device: glasses } = await setup(userId, order);
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 1_000 });
    await sendAsPackets(glasses, tone, encode);
    await stream.waitForSamples(tone.length, 5_000);

    const received = samplesOf(stream.received);
    expect(received.length).toBe(tone.length);
    expect(Buffer.from(received.buffer).equals(Buffer.from(tone.buffer))).toBe(true);
    for (const chunk of stream.received) {
      expect([chunk.sampleRate, chunk.channels, chunk.userId]).toEqual([16_000, 1, userId]);
    }
    const stamps = stream.received.map((c) => Number(c.timestampMs));
    for (let i = 1; i < stamps.length; i++)
      expect(stamps[i]).toBeGreaterThanOrEqual(stamps[i - 1] ?? 0);
    const span = (stamps.at(-1) ?? 0) - (stamps[0] ?? 0);
    // 50 packets paced 20 ms apart; "auto" releases its first 100 ms at once.
    expect(span).toBeGreaterThan(800);
    expect(span).toBeLessThan(1_500);
    expect(Math.abs((stamps[0] ?? 0) - Date.now())).toBeLessThan(5_000);

    const status = await rig.client.getStatus({ userId });
    const expected = encode === leBytes ? "little" : "big";
    expect(status.metadata.byte_order).toBe(expected);
    expect(status.metadata.odd_bytes_dropped).toBe("0");
  });

  it("drops the odd trailing byte of a packet and counts it", async () => {
    const userId = "u-odd";
    const { stream, device: glasses } = await setup(userId, PcmByteOrder.LITTLE);
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 100 });
    const bytes = leBytes(tone);
    const odd = new Uint8Array(bytes.length + 1);
    odd.set(bytes);
    odd[bytes.length] = 0x7f;
    await glasses.sendData(odd);
    await stream.waitForSamples(tone.length, 5_000);
    await sleep(200);
    expect(Array.from(samplesOf(stream.received))).toEqual(Array.from(tone));
    expect((await rig.client.getStatus({ userId })).metadata.odd_bytes_dropped).toBe("1");
  });

  it("converts a 48 kHz microphone track to 16 kHz mono chunks of 20 ms", async () => {
    const userId = "u-track";
    const { stream, device: glasses } = await setup(userId, PcmByteOrder.LITTLE);
    const tone = sineTone({ frequencyHz: 440, sampleRate: 48_000, durationMs: 1_000 });
    const before = Date.now();
    await glasses.publishPcm(tone, { sampleRate: 48_000 });
    await sleep(300);

    const received = samplesOf(stream.received);
    const trimmed = trimSilence(received, 16_000);
    expect(Math.abs(dominantFrequency(trimmed, 16_000) - 440)).toBeLessThan(3);
    // WebRTC carries nothing before the subscription is up, so the first tens of ms of a
    // freshly published track may be missing; after that there must be no hole.
    const audible = audibleMs(received, 16_000);
    expect(audible).toBeGreaterThanOrEqual(900);
    expect(audible).toBeLessThanOrEqual(1_060);
    expect((trimmed.length / 16_000) * 1000 - audible).toBeLessThanOrEqual(20);
    for (const chunk of stream.received) {
      expect([chunk.sampleRate, chunk.channels, chunk.pcmData.byteLength]).toEqual([
        16_000, 1, 640,
      ]);
    }
    const stamps = stream.received.map((c) => Number(c.timestampMs));
    expect(stamps[0]).toBeGreaterThanOrEqual(before - 100);
    const steps = stamps.slice(1).map((t, i) => t - (stamps[i] ?? 0));
    const meanStep = steps.reduce((a, b) => a + b, 0) / steps.length;
    expect(meanStep).toBeGreaterThan(15);
    expect(meanStep).toBeLessThan(25);
  });
});
