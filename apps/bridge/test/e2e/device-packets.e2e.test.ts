import { e2eGate } from "@mentra/livekit-rig";
import {
  createDeviceSender,
  type DeviceSenderOptions,
  dominantFrequency,
  findToneGlitches,
  recordFault,
  sineTone,
  type TestParticipant,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppOnRig, startAppOnRig } from "./app-on-rig.js";
import { type CloudStream, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";

const gate = await e2eGate();
const PACKET = 320; // samples in the phone's 20 ms packet
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The named sample of a Prometheus exposition, or 0. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/**
 * Reads the cloud's timeline packet by packet against what was sent: each 20 ms slot is
 * either a sent packet, bit-exact, or silence. Returns the sent index of the first slot
 * and which slots were silent; fails on any slot that is neither.
 */
function readTimeline(received: Int16Array, sent: Int16Array) {
  expect(received.length % PACKET).toBe(0);
  const slots = received.length / PACKET;
  const slot = (k: number) => received.subarray(k * PACKET, (k + 1) * PACKET);
  const packet = (i: number) => sent.subarray(i * PACKET, (i + 1) * PACKET);
  const same = (a: Int16Array, b: Int16Array) =>
    a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    );
  let first = -1;
  for (let i = 0; i < sent.length / PACKET && first < 0; i++) {
    if (same(slot(0), packet(i))) first = i;
  }
  expect(first, "the first 20 ms the cloud got is a packet the device sent").toBeGreaterThanOrEqual(
    0,
  );
  const silent: number[] = [];
  for (let k = 0; k < slots; k++) {
    const got = slot(k);
    if (same(got, packet(first + k))) continue;
    if (!got.every((s) => s === 0)) {
      const near = [-3, -2, -1, 1, 2, 3].filter((d) => same(got, packet(first + k + d)));
      console.log(
        `[device-packets] slot ${k} holds packet ${near.map((d) => first + k + d)} (silent so far ${silent})`,
      );
    }
    expect(
      got.every((s) => s === 0),
      `slot ${k}: neither packet ${first + k} nor silence`,
    ).toBe(true);
    silent.push(first + k);
  }
  return { first, slots, silent };
}

describe.skipIf(gate === "skip")("device data packets: the phone's format (real LiveKit)", () => {
  let rig: BridgeRig;
  // The whole app (as `npm start` wires it), for its /metrics, on the rig's LiveKit.
  let app: AppOnRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });
  beforeAll(async () => {
    app = await startAppOnRig(rig.livekit);
  });
  afterAll(async () => {
    await app?.close();
  });

  async function setup(userId: string) {
    const { device } = await joinUserAndDevice(
      { client: app.grpc, creds: rig.creds },
      cleanups,
      userId,
    );
    const stream: CloudStream = openCloudStream(app.grpc, userId);
    cleanups.push(() => stream.cancel());
    return { device, stream };
  }

  const senderOf = (device: TestParticipant, options: DeviceSenderOptions) =>
    createDeviceSender((payload, o) => device.sendData(payload, o), options);

  /** Sends `tone` with `options`, waits for the cloud to have it all, and reads status. */
  async function carry(userId: string, tone: Int16Array, options: DeviceSenderOptions) {
    const { device, stream } = await setup(userId);
    const sender = senderOf(device, options);
    await sender.send(tone);
    await sleep(400); // the reorder window and the byte-order judge have let go of all
    const status = await app.grpc.getStatus({ userId });
    console.log(
      `[device-packets] ${userId}: ${JSON.stringify(status.devicePackets, (_k, v) => (typeof v === "bigint" ? Number(v) : v))}`,
    );
    return { device, stream, sender, status, received: samplesOf(stream.received) };
  }

  it.each(["phone", "raw"] as const)(
    "%s format: a 440 Hz tone arrives bit-exact with no click; a packet of the other shape is counted invalid",
    async (format) => {
      const userId = `u-format-${format}`;
      const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 2_000 });
      const { device, stream, status, received } = await carry(userId, tone, { format });
      expect(received.length).toBe(tone.length);
      expect(Buffer.from(received.buffer).equals(Buffer.from(tone.buffer))).toBe(true);
      expect(findToneGlitches(received, 16_000, 440)).toEqual([]);
      expect(Math.abs(dominantFrequency(received, 16_000) - 440)).toBeLessThan(2);
      expect(status.devicePacketFormat).toBe(format);
      expect(status.devicePackets).toMatchObject({ accepted: 100n, lost: 0n, invalid: 0n });
      // The other shape (an even packet from a phone, an odd one from a raw device).
      await device.sendData(new Uint8Array(format === "phone" ? 640 : 641).fill(0x55));
      await sleep(300);
      expect(samplesOf(stream.received).length).toBe(tone.length);
      const after = await app.grpc.getStatus({ userId });
      expect(after.devicePackets?.invalid).toBe(1n);
      expect(after.metadata.device_packets_invalid).toBe("1");
    },
    20_000,
  );

  it("every 10th packet skipped: counted lost, and the cloud's timeline is the sent one with silence there", async () => {
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 3_000 });
    const skip = (i: number) => i % 10 === 5;
    const { status, received, sender } = await carry("u-skip", tone, { faults: { skip } });
    const skipped = sender.packets.filter((p) => p.fate === "skipped").map((p) => p.index);
    expect(skipped).toHaveLength(15);
    const timeline = readTimeline(received, tone);
    expect(timeline.first).toBe(0);
    expect(received.length).toBe(tone.length); // exactly the sent 3 s
    expect(timeline.silent).toEqual(skipped);
    expect(status.devicePackets).toMatchObject({
      accepted: 135n,
      lost: 15n,
      lossFilledMs: 300n,
      duplicate: 0n,
      late: 0n,
    });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(sample(metrics, 'bridge_device_packets_total{fate="lost"}')).toBeGreaterThanOrEqual(15);
    expect(sample(metrics, "bridge_device_loss_filled_seconds_total")).toBeGreaterThanOrEqual(0.3);
    recordFault({
      kind: "fault",
      what: "The phone skips every 10th data packet (15 of 150, 3 s of 440 Hz)",
      expected:
        "each counted lost and filled with its 20 ms of silence; the cloud's timeline is exactly the sent 3 s; the rest bit-exact",
      observed: `lost ${status.devicePackets?.lost}, filled ${status.devicePackets?.lossFilledMs} ms, at exactly the skipped packets; ${received.length / 16} ms received; ${status.devicePackets?.accepted} packets bit-exact`,
    });
  }, 20_000);

  it("duplicates, the wrap past 255 (from 250) and swaps within the window: nothing lost, duplicates dropped", async () => {
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 2_000 });
    const { status, received, sender } = await carry("u-dup", tone, {
      firstSequence: 250,
      faults: { duplicate: (i) => i % 7 === 3, swapWithNext: (i) => i % 9 === 4 },
    });
    expect(sender.packets.map((p) => p.sequence).slice(4, 8)).toEqual([254, 255, 0, 1]);
    expect(Buffer.from(received.buffer).equals(Buffer.from(tone.buffer))).toBe(true);
    expect(findToneGlitches(received, 16_000, 440)).toEqual([]);
    const duplicates = sender.packets.filter((p) => p.index % 7 === 3).length;
    const swaps = sender.packets.filter((p) => p.index % 9 === 4).length;
    expect(status.devicePackets).toMatchObject({
      accepted: 100n,
      lost: 0n,
      duplicate: BigInt(duplicates),
      reordered: BigInt(swaps),
      late: 0n,
    });
    recordFault({
      kind: "fault",
      what: "The phone's sequence starts at 250 (wraps past 255), every 7th packet sent twice, every 9th swapped with the next",
      expected:
        "0 lost; duplicates dropped and counted; swaps put back in order; the tone bit-exact with no click",
      observed: `accepted ${status.devicePackets?.accepted}, lost ${status.devicePackets?.lost}, duplicate ${status.devicePackets?.duplicate} of ${duplicates} sent, reordered ${status.devicePackets?.reordered} of ${swaps} swaps; bit-exact, 0 glitches`,
    });
  }, 20_000);

  it("a 6 s outage: 300 packets lost (not 300 mod 256), 6 s of silence filled", async () => {
    // 1 s, then 6 s in which the phone's packets are all lost, then 1 s.
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 8_000 });
    const skip = (i: number) => i >= 50 && i < 350;
    const { status, received } = await carry("u-outage", tone, { faults: { skip } });
    const timeline = readTimeline(received, tone);
    expect(received.length).toBe(tone.length);
    expect(timeline.silent).toEqual(Array.from({ length: 300 }, (_, k) => 50 + k));
    expect(status.devicePackets).toMatchObject({
      accepted: 100n,
      lost: 300n,
      lossFilledMs: 6_000n,
      resyncs: 0n,
    });
    recordFault({
      kind: "fault",
      what: "The phone's packets all lost for 6 s (300 packets; the sequence wraps on the way)",
      expected:
        "300 lost (not 300 mod 256), 6 s of silence filled; the cloud's timeline is the sent 8 s",
      observed: `lost ${status.devicePackets?.lost}, filled ${status.devicePackets?.lossFilledMs} ms, ${received.length / 16} ms received for 8000 ms sent, the silence exactly at packets 50-349`,
    });
  }, 30_000);

  it("10% loss on the rig's link: what the sequence says is missing is counted and filled, the timeline is the sent one", async () => {
    const network = rig.livekit.network;
    if (network === undefined) throw new Error("the e2e rig is isolated, so it has network faults");
    cleanups.push(() => network.clear());
    const { device, stream } = await setup("u-netloss");
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 6_000 });
    const sender = senderOf(device, {});
    await sender.send(tone.subarray(0, 50 * PACKET)); // 1 s clean: the format is decided
    await network.setLoss(0.1);
    await sender.send(tone.subarray(50 * PACKET, 250 * PACKET));
    await network.setLoss(0);
    await sender.send(tone.subarray(250 * PACKET));
    await sleep(500);
    const received = samplesOf(stream.received);
    const status = await app.grpc.getStatus({ userId: "u-netloss" });
    const timeline = readTimeline(received, tone);
    const figures = status.devicePackets;
    // The last packet and the first arrived (clean seconds), so the timeline is all 6 s.
    expect(timeline.first).toBe(0);
    expect(received.length).toBe(tone.length);
    expect(figures?.lost).toBe(BigInt(timeline.silent.length));
    expect(figures?.lossFilledMs).toBe(BigInt(timeline.silent.length * 20));
    expect(Number(figures?.accepted) + timeline.silent.length).toBe(300);
    // Each packet crosses the link twice (device → LiveKit → bridge): about 19% lost.
    const share = timeline.silent.length / 200;
    console.log(
      `[device-packets] 10% link loss: ${timeline.silent.length} of 200 packets lost (${(share * 100).toFixed(1)}%), late ${figures?.late}, reordered ${figures?.reordered}`,
    );
    expect(share).toBeGreaterThan(0.05);
    expect(share).toBeLessThan(0.4);
    expect(timeline.silent.every((i) => i >= 50 && i < 250)).toBe(true);
    recordFault({
      kind: "fault",
      what: "10% packet loss each way on the LiveKit link for 4 s while a phone sends 20 ms data packets",
      expected:
        "every missing packet counted lost and filled with 20 ms of silence; the cloud's timeline is the sent duration; received packets bit-exact",
      observed: `${timeline.silent.length} of 200 packets lost (${(share * 100).toFixed(1)}%), all counted and filled (${figures?.lossFilledMs} ms); timeline ${received.length / 16} ms for 6000 ms sent; every other packet bit-exact`,
    });
  }, 30_000);
});
