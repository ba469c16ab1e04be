import { Code } from "@connectrpc/connect";
import { e2eGate } from "@mentra/livekit-rig";
import { audibleMs, dominantFrequency, sineTone, trimSilence } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { type CloudStream, leBytes, openCloudStream } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";
import { recordTrack } from "./track-recorder.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends interleaved samples as chunks of `chunkMs`, as fast as the bridge accepts them. */
function sendTone(
  stream: CloudStream,
  samples: Int16Array,
  options: { sampleRate: number; channels: number; trackId: number; chunkMs: number },
) {
  const perChunk = ((options.sampleRate * options.chunkMs) / 1000) * options.channels;
  for (let offset = 0; offset < samples.length; offset += perChunk) {
    stream.send({
      pcmData: leBytes(samples.subarray(offset, offset + perChunk)),
      sampleRate: options.sampleRate,
      channels: options.channels,
      trackId: options.trackId,
    });
  }
}

describe.skipIf(gate === "skip")("cloud → room through the bridge (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  async function setup(userId: string) {
    const joined = await joinUserAndDevice(rig, cleanups, userId);
    const stream = openCloudStream(rig.client, userId);
    cleanups.push(() => stream.cancel());
    return { ...joined, stream };
  }

  it("plays 16 kHz mono on track 0 and 48 kHz stereo on track 2, each on its own track", async () => {
    const { device, stream, bridgeIdentity } = await setup("u-tracks");
    const speaker = recordTrack(device, bridgeIdentity, "speaker", 48_000);
    const tts = recordTrack(device, bridgeIdentity, "tts", 48_000);
    const low = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 1_000 });
    const high = sineTone({
      frequencyHz: 1_000,
      sampleRate: 48_000,
      durationMs: 1_000,
      channels: 2,
    });
    // Odd chunk sizes on purpose: the bridge cuts them into 20 ms frames itself.
    sendTone(stream, low, { sampleRate: 16_000, channels: 1, trackId: 0, chunkMs: 35 });
    sendTone(stream, high, { sampleRate: 48_000, channels: 2, trackId: 2, chunkMs: 25 });
    await Promise.all([speaker.subscribed, tts.subscribed]);
    await sleep(2_000);
    const [heardLow, heardHigh] = await Promise.all([speaker.stop(), tts.stop()]);

    for (const [heard, frequency] of [
      [heardLow, 440],
      [heardHigh, 1_000],
    ] as const) {
      const trimmed = trimSilence(heard, 48_000);
      expect(Math.abs(dominantFrequency(trimmed, 48_000) - frequency)).toBeLessThan(3);
      const audible = audibleMs(heard, 48_000);
      // The track is published on the first chunk, so on a busy machine the device may
      // subscribe a little after the tone began (850 ms heard once in CI).
      expect(audible).toBeGreaterThanOrEqual(800);
      expect(audible).toBeLessThanOrEqual(1_060);
      expect((trimmed.length / 48_000) * 1000 - audible).toBeLessThanOrEqual(20);
    }
    const status = await rig.client.getStatus({ userId: "u-tracks" });
    expect(status.connected).toBe(true);
    expect(status.metadata.chunks_from_cloud).toBe(String(Math.ceil(1000 / 35) + 40));
  });

  it("publishes no track before the first non-empty audio", async () => {
    const { device, stream, bridgeIdentity } = await setup("u-lazy");
    stream.send({ userId: "u-lazy", sampleRate: 16_000, trackId: 1 });
    await sleep(500);
    const bridge = device.room.remoteParticipants.get(bridgeIdentity);
    expect(bridge).toBeDefined();
    expect(bridge?.trackPublications.size).toBe(0);
    const appAudio = recordTrack(device, bridgeIdentity, "app_audio", 16_000);
    sendTone(stream, sineTone({ frequencyHz: 660, sampleRate: 16_000, durationMs: 300 }), {
      sampleRate: 16_000,
      channels: 1,
      trackId: 1,
      chunkMs: 20,
    });
    await appAudio.subscribed;
    await sleep(700);
    const heard = await appAudio.stop();
    expect(Math.abs(dominantFrequency(trimSilence(heard, 16_000), 16_000) - 660)).toBeLessThan(3);
    expect(bridge?.trackPublications.size).toBe(1);
  });

  it.each([
    ["odd-length pcm_data", { pcmData: new Uint8Array(3), sampleRate: 16_000 }, "pcm_data"],
    [
      "a sample rate out of range",
      { pcmData: new Uint8Array(4), sampleRate: 96_000 },
      "sample_rate",
    ],
    [
      "three channels",
      { pcmData: new Uint8Array(12), sampleRate: 16_000, channels: 3 },
      "channels",
    ],
    [
      "a negative track id",
      { pcmData: new Uint8Array(4), sampleRate: 16_000, trackId: -1 },
      "track_id",
    ],
    [
      "a chunk over the size limit",
      { pcmData: new Uint8Array(1024 * 1024 + 2), sampleRate: 16_000 },
      "pcm_data",
    ],
  ])(
    "ends the stream with InvalidArgument for %s and keeps the session",
    async (_n, chunk, field) => {
      const userId = `u-bad-${field}-${Math.random().toString(36).slice(2, 6)}`;
      const { device, stream, bridgeIdentity } = await setup(userId);
      stream.send(chunk);
      const error = await stream.ended;
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toContain(field);

      // The session is still in the room: a new stream plays audio.
      const status = await rig.client.getStatus({ userId });
      expect(status.connected).toBe(true);
      const again = openCloudStream(rig.client, userId);
      cleanups.push(() => again.cancel());
      const speaker = recordTrack(device, bridgeIdentity, "speaker", 16_000);
      sendTone(again, sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 300 }), {
        sampleRate: 16_000,
        channels: 1,
        trackId: 0,
        chunkMs: 20,
      });
      await speaker.subscribed;
      await sleep(700);
      const heard = await speaker.stop();
      expect(Math.abs(dominantFrequency(trimSilence(heard, 16_000), 16_000) - 440)).toBeLessThan(3);
    },
  );
});
