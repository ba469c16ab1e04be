import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { PcmByteOrder } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import { audibleMs, dominantFrequency, sineTone, trimSilence } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { beBytes, type CloudStream, leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";

const gate = await e2eGate();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    // The phone's packets: a sequence byte, then 20 ms of PCM, paced in real time.
    await glasses.sendPcm(encode(tone));
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
    // 50 packets paced 20 ms apart; "auto" releases what it held (one or two 100 ms
    // windows, as the judge needs) at once: 780–900 ms measured.
    console.log(`[room-to-cloud] ${userId}: chunk timestamps span ${span} ms`);
    expect(span).toBeGreaterThan(700);
    expect(span).toBeLessThan(1_500);
    expect(Math.abs((stamps[0] ?? 0) - Date.now())).toBeLessThan(5_000);

    const status = await rig.client.getStatus({ userId });
    const expected = encode === leBytes ? "little" : "big";
    expect(status.metadata.byte_order).toBe(expected);
    expect(status.devicePacketFormat).toBe("phone");
    expect(status.devicePackets?.accepted).toBe(50n);
    expect(status.devicePackets?.lost).toBe(0n);
    expect(status.devicePackets?.invalid).toBe(0n);
  });

  it("converts a 48 kHz microphone track to 16 kHz mono chunks of 20 ms", async () => {
    const userId = "u-track";
    const { stream, device: glasses } = await setup(userId, PcmByteOrder.LITTLE);
    const tone = sineTone({ frequencyHz: 440, sampleRate: 48_000, durationMs: 1_000 });
    const before = Date.now();
    // WebRTC carries nothing before the bridge's subscription is up (under load 100 ms and
    // more of a freshly published track went missing), so the track plays silence until
    // the cloud receives it, and then the tone: all of that must arrive, with no hole.
    const source = new AudioSource(48_000, 1);
    const track = LocalAudioTrack.createAudioTrack("mic", source);
    cleanups.push(async () => {
      await track.close();
      await source.close();
    });
    await glasses.room.localParticipant?.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    const feed = async (pcm: Int16Array) => {
      for (let offset = 0; offset < pcm.length; offset += 480) {
        const frame = new Int16Array(480);
        frame.set(pcm.subarray(offset, offset + 480));
        await source.captureFrame(new AudioFrame(frame, 48_000, 1, 480));
      }
    };
    const silence = new Int16Array(480);
    const subscribedBy = Date.now() + 10_000;
    while (stream.received.length === 0 && Date.now() < subscribedBy) await feed(silence);
    expect(stream.received.length).toBeGreaterThan(0);
    await feed(tone);
    await feed(new Int16Array(4_800)); // 100 ms more, so the tone's tail is played out
    await source.waitForPlayout();
    await sleep(300);

    const received = samplesOf(stream.received);
    const trimmed = trimSilence(received, 16_000);
    expect(Math.abs(dominantFrequency(trimmed, 16_000) - 440)).toBeLessThan(3);
    const audible = audibleMs(received, 16_000);
    expect(audible).toBeGreaterThanOrEqual(980);
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
