import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { AudioChunkSchema } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import { dominantFrequency, recordFault, sineTone, type TestParticipant } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { leBytes, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";
import { recordTrack } from "./track-recorder.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const QUEUE_MS = 500;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** A gRPC envelope around one AudioChunk. */
function envelope(init: Parameters<typeof create<typeof AudioChunkSchema>>[1]): Buffer {
  const bytes = toBinary(AudioChunkSchema, create(AudioChunkSchema, init));
  const out = Buffer.alloc(5 + bytes.byteLength);
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

describe.skipIf(gate === "skip")("cloud consumers that stall or go quiet (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({ CLOUD_QUEUE_MS: String(QUEUE_MS) }, (started) => {
    rig = started;
  });

  async function userWithDevice(userId: string): Promise<TestParticipant> {
    return (await joinUserAndDevice(rig, cleanups, userId)).device;
  }

  it("a consumer that stops reading: its queue stays bounded, drops are counted, another user's delay is unchanged", async () => {
    const stalled = await userWithDevice("u-stall");
    const other = await userWithDevice("u-other");
    const tone = (hz: number) =>
      sineTone({ frequencyHz: hz, sampleRate: 16_000, durationMs: 11_000 });
    // Caught here: a failing test closes the devices while they still publish.
    const mics = [
      stalled.publishPcm(tone(440), { sampleRate: 16_000 }),
      other.publishPcm(tone(660), { sampleRate: 16_000 }),
    ].map((publishing) => publishing.catch((error: unknown) => error));

    // The other user's cloud side reads normally and notes each chunk's delay: from the
    // bridge receiving its first sample to the chunk reaching this client.
    const delays: { at: number; ms: number }[] = [];
    const otherStream = new AbortController();
    cleanups.push(async () => otherStream.abort());
    const otherAudio: Int16Array[] = [];
    const reading = (async () => {
      async function* requests() {
        yield { userId: "u-other", sampleRate: 16_000 };
        await new Promise((resolve) => otherStream.signal.addEventListener("abort", resolve));
      }
      try {
        for await (const chunk of rig.client.streamAudio(requests(), {
          signal: otherStream.signal,
        })) {
          const now = Date.now();
          delays.push({ at: now, ms: now - Number(chunk.timestampMs) - 20 });
          otherAudio.push(samplesOf([chunk]));
        }
      } catch {
        // Cancelled at the end.
      }
    })();

    // The stalled consumer: raw HTTP/2, the first chunk sent, then nothing read at all,
    // so HTTP/2 flow control stops the bridge from writing to it.
    const session = http2.connect(rig.server.address?.url ?? "");
    cleanups.push(async () => session.destroy());
    const call = session.request({
      ":method": "POST",
      ":path": "/mentra.livekit.bridge.LiveKitBridge/StreamAudio",
      "content-type": "application/grpc",
      te: "trailers",
    });
    call.on("error", () => {});
    call.write(envelope({ userId: "u-stall", sampleRate: 16_000 }));
    const stallStart = Date.now();
    await sleep(8_000);
    const registry = rig.registry.get("u-stall");
    const during = registry?.status().metadata ?? {};
    const droppedMs = Number(during.cloud_dropped_ms);
    const queuedMs = Number(during.cloud_queued_ms);
    // Bounded: never more than CLOUD_QUEUE_MS waits in the bridge for this consumer; what
    // flow control lets through before it closes is one HTTP/2 window (64 kB, 2 s).
    expect(queuedMs).toBeLessThanOrEqual(QUEUE_MS);
    // Flow control lets about 3 s through before it closes (the stream's 64 kB window and
    // Node's buffers) and the device starts a few hundred ms late; the rest is dropped.
    expect(droppedMs).toBeGreaterThan(8_000 - QUEUE_MS - 4_000);
    expect(droppedMs).toBeLessThan(8_000);

    // The stalled consumer reads again: the newest audio comes, then live audio.
    const resumed: Buffer[] = [];
    call.on("data", (data: Buffer) => resumed.push(data));
    await sleep(1_000);
    const resumedBytes = resumed.reduce((sum, b) => sum + b.byteLength, 0);
    expect(resumedBytes).toBeGreaterThan(16_000); // > 0.5 s of 16 kHz audio and framing

    otherStream.abort();
    await reading;
    call.close(http2.constants.NGHTTP2_CANCEL);
    expect(await Promise.all(mics)).toEqual([undefined, undefined]);

    // The other user: its delay during the stall is what it was before, and its tone is intact.
    const before = delays.filter((d) => d.at < stallStart + 500).map((d) => d.ms);
    const stalledDelays = delays
      .filter((d) => d.at >= stallStart + 1_000 && d.at < stallStart + 8_000)
      .map((d) => d.ms);
    expect(stalledDelays.length).toBeGreaterThan(300);
    const p95Before = percentile(before, 95);
    const p95During = percentile(stalledDelays, 95);
    expect(p95During).toBeLessThan(Math.max(p95Before, 5) + 20);
    const heard = otherAudio.reduce((n, a) => n + a.length, 0);
    const all = new Int16Array(heard);
    let offset = 0;
    for (const part of otherAudio) {
      all.set(part, offset);
      offset += part.length;
    }
    expect(Math.abs(dominantFrequency(all.subarray(16_000, 96_000), 16_000) - 660)).toBeLessThan(3);
    recordFault({
      kind: "fault",
      what: "A cloud consumer stops reading its StreamAudio for 8 s (HTTP/2 flow control closes)",
      expected: `its queue stays within CLOUD_QUEUE_MS (${QUEUE_MS} ms), the rest is dropped and counted; another user's delivery delay is unchanged`,
      observed: `queued ${queuedMs} ms, dropped ${droppedMs} ms of 8000; after reading again ${resumedBytes} bytes came at once; the other user's delay p95 ${p95Before} ms before, ${p95During} ms during`,
    });
  }, 40_000);

  it("a cloud stream that sends nothing for over two minutes stays open, then carries audio both ways", async () => {
    const device = await userWithDevice("u-quiet");
    const chunks: { pcm: Uint8Array }[] = [];
    const controller = new AbortController();
    cleanups.push(async () => controller.abort());
    const outgoing: Parameters<typeof rig.client.streamAudio>[0] extends AsyncIterable<infer T>
      ? T[]
      : never = [];
    let wake: (() => void) | undefined;
    async function* requests() {
      yield { userId: "u-quiet", sampleRate: 16_000 };
      while (!controller.signal.aborted) {
        const next = outgoing.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          controller.signal.addEventListener("abort", () => resolve());
        });
      }
    }
    let endedWith: unknown = "still open";
    const reading = (async () => {
      try {
        for await (const chunk of rig.client.streamAudio(requests(), {
          signal: controller.signal,
        })) {
          chunks.push({ pcm: chunk.pcmData });
        }
        endedWith = "OK";
      } catch (error) {
        endedWith = error;
      }
    })();
    // Past the usual idle timeouts (Node's 60 s header timeout, proxies' 60-120 s).
    const quietMs = 125_000;
    await sleep(quietMs);
    expect(endedWith).toBe("still open");
    expect(chunks).toEqual([]);
    expect(rig.registry.get("u-quiet")?.hasStream).toBe(true);

    // Now audio both ways.
    const speaker = recordTrack(device, "cloud-agent:u-quiet", "speaker", 16_000);
    const cloudTone = sineTone({ frequencyHz: 550, sampleRate: 16_000, durationMs: 600 });
    outgoing.push({ pcmData: leBytes(cloudTone), sampleRate: 16_000, channels: 1 });
    wake?.();
    await device.publishPcm(sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 600 }), {
      sampleRate: 16_000,
    });
    await sleep(500);
    const heardByDevice = await speaker.stop();
    controller.abort();
    await reading;
    const fromDevice = samplesOf(
      chunks.map((c) => create(AudioChunkSchema, { pcmData: c.pcm, channels: 1 })),
    );
    expect(Math.abs(dominantFrequency(fromDevice, 16_000) - 440)).toBeLessThan(3);
    expect(Math.abs(dominantFrequency(heardByDevice, 16_000) - 550)).toBeLessThan(3);
    recordFault({
      kind: "fault",
      what: "A cloud stream that sends nothing (and receives nothing) for 125 s",
      expected: "no idle timeout anywhere: the stream stays open, then carries audio both ways",
      observed: `open after ${quietMs / 1000} s with 0 chunks; then 440 Hz reached the cloud (${fromDevice.length} samples) and 550 Hz the device`,
    });
  }, 160_000);
});
