import { e2eGate } from "@mentra/livekit-rig";
import {
  chirpProbe,
  createDeviceSender,
  feedPaced as feedPacedChunks,
  histogramDelta,
  histogramQuantile,
  joinParticipant,
  type PathLatency,
  pathLatency as probeLatency,
  publishTimedMic,
  readHistogram,
  recordTimedTrack,
  sineTone,
  type TimedFrame,
  waitFor,
} from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { startAppOnRig } from "./app-on-rig.js";
import { type CloudStream, leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";

const gate = await e2eGate();
const PROBE = chirpProbe();
const { sampleRate: RATE, chunkSamples: CHUNK_SAMPLES, signal: SIGNAL } = PROBE;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Feeds 20 ms chunks on a real-time schedule, like the deployed cloud; returns when each was handed over. */
const feedPaced = (signal: Int16Array, deliver: (chunk: Int16Array) => unknown) =>
  feedPacedChunks(signal, CHUNK_SAMPLES, deliver);
const pathLatency = (frames: readonly TimedFrame[], handedAt: readonly number[]) =>
  probeLatency(PROBE, frames, handedAt);

/**
 * The wall-clock time each room→cloud chunk reached the cloud, in `stream.received` order.
 * openCloudStream keeps no times, so this notes one whenever it appends a chunk.
 */
function stampArrivals(stream: CloudStream): number[] {
  const times: number[] = [];
  const received = stream.received;
  const push = received.push.bind(received);
  received.push = (...chunks) => {
    for (const _ of chunks) times.push(Date.now());
    return push(...chunks);
  };
  return times;
}

type PathResult = Pick<PathLatency, "latencyMs" | "peak" | "wholePeak">;

function report(direction: string, direct: PathResult, bridged: PathResult) {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const peaks = (path: PathResult) => `${path.peak.toFixed(2)}/${path.wholePeak.toFixed(2)}`;
  console.log(
    `[latency] ${direction}: direct ${ms(direct.latencyMs)}, via bridge ${ms(bridged.latencyMs)}, ` +
      `added ${ms(bridged.latencyMs - direct.latencyMs)} ` +
      `(chirp peak per piece/whole: direct ${peaks(direct)}, bridge ${peaks(bridged)})`,
  );
}

describe.skipIf(gate === "skip")("latency the bridge adds (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  async function setup(userId: string) {
    const { room, device, bridgeIdentity } = await joinUserAndDevice(rig, cleanups, userId);
    const stream = openCloudStream(rig.client, userId);
    const arrivals = stampArrivals(stream);
    cleanups.push(() => stream.cancel());
    const peer = await joinParticipant(rig.creds, room, "peer");
    cleanups.push(() => peer.close());
    return { device, peer, stream, arrivals, bridgeIdentity };
  }

  it("adds little latency from the device's microphone to the cloud", async () => {
    const { device, peer, stream, arrivals } = await setup("u-latency-up");
    const mic = await publishTimedMic(device);
    cleanups.push(() => mic.close());
    // The peer listens to the very track the bridge forwards: same source, same moment.
    const direct = recordTimedTrack(peer, "glasses", mic.name);
    const handedAt = await feedPaced(SIGNAL, (chunk) => mic.write(chunk));
    await sleep(300);
    const directFrames = await direct.stop();
    const bridgedFrames = stream.received.map((chunk, i) => ({
      samples: samplesOf([chunk]),
      at: arrivals[i] ?? Number.NaN,
    }));

    const viaPeer = pathLatency(directFrames, handedAt);
    const viaBridge = pathLatency(bridgedFrames, handedAt);
    report("device → cloud", viaPeer, viaBridge);
    expect(viaPeer.peak).toBeGreaterThan(0.6);
    expect(viaBridge.peak).toBeGreaterThan(0.6);
    expect(viaPeer.latenciesMs.length).toBeGreaterThan(50);
    expect(viaBridge.latenciesMs.length).toBeGreaterThan(25);
    expect(viaPeer.latencyMs).toBeGreaterThan(0);
    expect(viaPeer.latencyMs).toBeLessThan(500);
    const added = viaBridge.latencyMs - viaPeer.latencyMs;
    expect(added).toBeGreaterThan(-50);
    expect(added).toBeLessThan(150);
  }, 30_000);

  it("adds little latency from the cloud to the device's speaker", async () => {
    const { device, peer, stream, bridgeIdentity } = await setup("u-latency-down");
    const mic = await publishTimedMic(peer);
    cleanups.push(() => mic.close());
    const bridged = recordTimedTrack(device, bridgeIdentity, "speaker");
    const direct = recordTimedTrack(device, "peer", mic.name);
    // The bridge publishes "speaker" on the first audio, and what the cloud sends meanwhile
    // stays queued ahead of all later audio while the cloud keeps streaming in real time.
    // That one-off cost is not what this measures: publish with a short burst, let it play
    // out, then measure the steady state.
    stream.send({ pcmData: leBytes(new Int16Array(5 * CHUNK_SAMPLES)), sampleRate: RATE });
    let subscribed = false;
    void Promise.all([bridged.subscribed, direct.subscribed]).then(() => {
      subscribed = true;
    });
    await waitFor(() => subscribed, { timeoutMs: 5_000, description: "both tracks subscribed" });
    await sleep(500);
    // Both sources play the same schedule at once: the cloud over StreamAudio on track 0,
    // the peer into its own microphone track.
    const [bridgeHandedAt, peerHandedAt] = await Promise.all([
      feedPaced(SIGNAL, (chunk) =>
        stream.send({ pcmData: leBytes(chunk), sampleRate: RATE, channels: 1, trackId: 0 }),
      ),
      feedPaced(SIGNAL, (chunk) => mic.write(chunk)),
    ]);
    await sleep(300);
    const [bridgedFrames, directFrames] = await Promise.all([bridged.stop(), direct.stop()]);

    const viaPeer = pathLatency(directFrames, peerHandedAt);
    const viaBridge = pathLatency(bridgedFrames, bridgeHandedAt);
    report("cloud → device", viaPeer, viaBridge);
    expect(viaPeer.peak).toBeGreaterThan(0.6);
    expect(viaBridge.peak).toBeGreaterThan(0.6);
    expect(viaPeer.latenciesMs.length).toBeGreaterThan(50);
    expect(viaBridge.latenciesMs.length).toBeGreaterThan(50);
    expect(viaPeer.latencyMs).toBeGreaterThan(0);
    expect(viaPeer.latencyMs).toBeLessThan(500);
    const added = viaBridge.latencyMs - viaPeer.latencyMs;
    expect(added).toBeGreaterThan(-50);
    expect(added).toBeLessThan(150);
  }, 30_000);

  it("reports the time audio spends inside it, each way, in /metrics", async () => {
    // The whole app, as `npm start` wires it, for its /metrics.
    const app = await startAppOnRig(rig.livekit);
    cleanups.push(() => app.close());
    const userId = "u-latency-metrics";
    const { device } = await joinUserAndDevice(
      { client: app.grpc, creds: rig.creds },
      cleanups,
      userId,
    );
    const stream = openCloudStream(app.grpc, userId);
    cleanups.push(() => stream.cancel());
    const phone = createDeviceSender((payload, o) => device.sendData(payload, o), {
      paced: false,
    });
    const metric = async (direction: string) =>
      readHistogram(
        await (await fetch(`${app.url}/metrics`)).text(),
        "bridge_audio_latency_seconds",
        {
          direction,
        },
      );
    // The speaker track is published on the first audio, and what the cloud sends
    // meanwhile stays queued ahead of later real-time audio: publish it with a short
    // burst and let that play out, so what follows is the steady state.
    stream.send({ pcmData: leBytes(new Int16Array(5 * CHUNK_SAMPLES)), sampleRate: RATE });
    await waitFor(async () => (await metric("to_room"))?.count === 5, {
      timeoutMs: 5_000,
      description: "the burst played out",
    });
    await sleep(200);
    const before = { toCloud: await metric("to_cloud"), toRoom: await metric("to_room") };
    // One second each way in real time: 50 device packets and 50 TTS chunks of 20 ms.
    const tone = sineTone({ frequencyHz: 440, sampleRate: RATE, durationMs: 1_000 });
    await Promise.all([
      // The phone's packets (sequence byte, lossy channel), paced here, not by the sender.
      feedPaced(tone, (chunk) => phone.send(chunk)),
      feedPaced(tone, (chunk) =>
        stream.send({ pcmData: leBytes(chunk), sampleRate: RATE, channels: 1, trackId: 0 }),
      ),
    ]);
    // The whole second at the cloud (the byte-order judge hands the first 100 ms over as one chunk).
    await waitFor(() => samplesOf(stream.received).length >= tone.length, {
      timeoutMs: 5_000,
      description: "the device's second at the cloud",
    });
    await sleep(600); // the last TTS frames leave the AudioSource's queue
    const toCloudAfter = await metric("to_cloud");
    const toRoomAfter = await metric("to_room");
    if (toCloudAfter === undefined || toRoomAfter === undefined) {
      throw new Error("bridge_audio_latency_seconds has no series for a direction");
    }
    const toCloud = histogramDelta(toCloudAfter, before.toCloud);
    const toRoom = histogramDelta(toRoomAfter, before.toRoom);
    // Every chunk the cloud got was timed once; every 20 ms frame of the TTS second too.
    expect(toCloud.count).toBe(stream.received.length);
    expect(toRoom.count).toBe(50);
    const ms = (series: typeof toCloud, q: number) => histogramQuantile(series, q) * 1000;
    console.log(
      `[latency] inside the bridge: room→cloud p50 ${ms(toCloud, 0.5).toFixed(2)} / p99 ${ms(toCloud, 0.99).toFixed(2)} ms, ` +
        `cloud→room p50 ${ms(toRoom, 0.5).toFixed(2)} / p99 ${ms(toRoom, 0.99).toFixed(2)} ms`,
    );
    // Room audio is handed on at once. TTS sent in real time waits the jitter buffer
    // (TRACK_JITTER_BUFFER_MS, 60 ms by default) before its utterance plays, and then
    // plays at that delay: every frame by at most a few ms more.
    expect(ms(toCloud, 0.5)).toBeLessThan(10);
    expect(ms(toRoom, 0.5)).toBeGreaterThanOrEqual(55);
    expect(ms(toRoom, 0.5)).toBeLessThan(90);
  }, 30_000);
});
