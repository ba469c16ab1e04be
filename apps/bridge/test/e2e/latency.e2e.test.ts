import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  type RemoteTrack,
  type RemoteTrackPublication,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { e2eGate } from "@mentra/livekit-rig";
import {
  chirp,
  concatPcm,
  findOffset,
  histogramDelta,
  histogramQuantile,
  joinParticipant,
  readHistogram,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { startAppOnRig } from "./app-on-rig.js";
import { type CloudStream, leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, uniqueRoom, useBridgeRig } from "./harness.js";

const gate = await e2eGate();
const RATE = 16_000;
/** Every source is fed in 20 ms chunks on a real-time schedule, like the deployed cloud. */
const CHUNK_SAMPLES = 320;
/** Silence before the chirp, long enough for every subscription to be up when it starts. */
const LEAD_IN_MS = 2_000;
const TAIL_MS = 600;
/**
 * 300 → 3000 Hz over 1 s. Each 100 ms piece of it survives Opus with a correlation peak
 * above 0.9; the whole second sometimes only reaches 0.3 (see {@link pathLatency}).
 */
const REFERENCE = chirp({ sampleRate: RATE, durationMs: 1_000, fromHz: 300, toHz: 3_000 });
const LEAD_IN = (RATE * LEAD_IN_MS) / 1000;
const SIGNAL = concatPcm([
  new Int16Array(LEAD_IN),
  REFERENCE,
  new Int16Array((RATE * TAIL_MS) / 1000),
]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A received block of samples and the wall-clock time it became available to its reader. */
interface TimedFrame {
  readonly samples: Int16Array;
  readonly at: number;
}

/**
 * Hands `signal` to `deliver` in 20 ms chunks, chunk i at start + 20·i ms; returns the
 * wall-clock time each chunk was actually handed over (later than planned when the loop lags).
 */
async function feedPaced(
  signal: Int16Array,
  deliver: (chunk: Int16Array) => unknown,
): Promise<number[]> {
  const handedAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i * CHUNK_SAMPLES < signal.length; i++) {
    const due = start + i * 20 - Date.now();
    if (due > 0) await sleep(due);
    handedAt.push(Date.now());
    await deliver(signal.subarray(i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES));
  }
  return handedAt;
}

/** A microphone track the test feeds itself, so it knows when each sample entered it. */
async function publishMic(participant: TestParticipant) {
  const source = new AudioSource(RATE, 1);
  const track = LocalAudioTrack.createAudioTrack(`${participant.identity}-mic`, source);
  const local = participant.room.localParticipant;
  const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
  const publication = await local?.publishTrack(track, options);
  const perFrame = RATE / 100;
  return {
    name: `${participant.identity}-mic`,
    async write(samples: Int16Array) {
      for (let offset = 0; offset < samples.length; offset += perFrame) {
        const frame = new Int16Array(perFrame);
        frame.set(samples.subarray(offset, offset + perFrame));
        await source.captureFrame(new AudioFrame(frame, RATE, 1, perFrame));
      }
    },
    async close() {
      if (publication?.sid !== undefined)
        await local?.unpublishTrack(publication.sid).catch(() => {});
      await track.close().catch(() => {});
      await source.close().catch(() => {});
    },
  };
}

/** Records one named track of `fromIdentity` at 16 kHz mono in 10 ms frames, with arrival times. */
function recordTimed(listener: TestParticipant, fromIdentity: string, trackName: string) {
  const frames: TimedFrame[] = [];
  const readers: Promise<void>[] = [];
  const streams: ReadableStreamDefaultReader<AudioFrame>[] = [];
  let markSubscribed: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    markSubscribed = resolve;
  });
  const attach = (track: RemoteTrack, publication: RemoteTrackPublication, identity: string) => {
    if (identity !== fromIdentity || track.kind !== TrackKind.KIND_AUDIO) return;
    if (publication.name !== trackName) return;
    const reader = new AudioStream(track, {
      sampleRate: RATE,
      numChannels: 1,
      frameSizeMs: 10,
    }).getReader();
    streams.push(reader);
    readers.push(
      (async () => {
        for (;;) {
          const { done, value } = await reader
            .read()
            .catch(() => ({ done: true, value: undefined }));
          if (done || value === undefined) return;
          frames.push({ samples: value.data.slice(), at: Date.now() });
        }
      })(),
    );
    markSubscribed();
  };
  const onTrack = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: { identity: string },
  ) => attach(track, publication, participant.identity);
  listener.room.on(RoomEvent.TrackSubscribed, onTrack);
  for (const participant of listener.room.remoteParticipants.values()) {
    for (const publication of participant.trackPublications.values()) {
      if (publication.track) attach(publication.track, publication, participant.identity);
    }
  }
  return {
    subscribed,
    async stop(): Promise<TimedFrame[]> {
      listener.room.off(RoomEvent.TrackSubscribed, onTrack);
      await Promise.all(streams.map((reader) => reader.cancel().catch(() => {})));
      await Promise.allSettled(readers);
      return frames;
    },
  };
}

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

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** The chirp is aligned in pieces of this length: a jitter buffer may stretch time between them. */
const SEGMENT_SAMPLES = 1_600;

/**
 * One path's latency. Each 100 ms piece of the chirp is found in the recording by
 * cross-correlation near where the whole chirp lines up best, because the receiver's
 * jitter buffer may add or drop a few ms of audio mid-chirp and Opus may shift the phase
 * of some bands, which would spoil a single alignment of the whole second. Every recorded
 * frame inside a piece is matched to the 20 ms source chunk its middle sample came from;
 * the latency is the median of (frame arrival − chunk hand-over).
 */
function pathLatency(frames: readonly TimedFrame[], handedAt: readonly number[]) {
  const recording = concatPcm(frames.map((f) => f.samples));
  const whole = findOffset(REFERENCE, recording, RATE);
  const starts: number[] = [];
  let total = 0;
  for (const frame of frames) {
    starts.push(total);
    total += frame.samples.length;
  }
  const latencies: number[] = [];
  const peaks: number[] = [];
  for (let k = 0; k * SEGMENT_SAMPLES < REFERENCE.length; k++) {
    const piece = REFERENCE.subarray(k * SEGMENT_SAMPLES, (k + 1) * SEGMENT_SAMPLES);
    const from = Math.max(0, whole.offsetSamples + k * SEGMENT_SAMPLES - SEGMENT_SAMPLES);
    const window = recording.subarray(from, from + 3 * SEGMENT_SAMPLES);
    if (window.length < SEGMENT_SAMPLES) continue;
    const found = findOffset(piece, window, RATE);
    peaks.push(found.peak);
    const at = from + found.offsetSamples;
    frames.forEach((frame, i) => {
      const inPiece = Math.floor((starts[i] ?? 0) + frame.samples.length / 2) - at;
      if (inPiece < 0 || inPiece >= piece.length) return;
      const source = LEAD_IN + k * SEGMENT_SAMPLES + inPiece;
      const handed = handedAt[Math.floor(source / CHUNK_SAMPLES)];
      if (handed !== undefined) latencies.push(frame.at - handed);
    });
  }
  return {
    latencyMs: median(latencies),
    peak: median(peaks),
    wholePeak: whole.peak,
    frames: latencies.length,
  };
}

interface PathResult {
  readonly latencyMs: number;
  readonly peak: number;
  readonly wholePeak: number;
}

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
    const room = uniqueRoom(userId);
    const join = await rig.client.joinRoom({ userId, roomName: room, targetIdentity: "glasses" });
    expect(join.success).toBe(true);
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(
      () => device.close(),
      () => rig.client.leaveRoom({ userId }),
    );
    const stream = openCloudStream(rig.client, userId);
    const arrivals = stampArrivals(stream);
    cleanups.push(() => stream.cancel());
    const peer = await joinParticipant(rig.creds, room, "peer");
    cleanups.push(() => peer.close());
    return { device, peer, stream, arrivals, bridgeIdentity: `cloud-agent:${userId}` };
  }

  it("adds little latency from the device's microphone to the cloud", async () => {
    const { device, peer, stream, arrivals } = await setup("u-latency-up");
    const mic = await publishMic(device);
    cleanups.push(() => mic.close());
    // The peer listens to the very track the bridge forwards: same source, same moment.
    const direct = recordTimed(peer, "glasses", mic.name);
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
    expect(viaPeer.frames).toBeGreaterThan(50);
    expect(viaBridge.frames).toBeGreaterThan(25);
    expect(viaPeer.latencyMs).toBeGreaterThan(0);
    expect(viaPeer.latencyMs).toBeLessThan(500);
    const added = viaBridge.latencyMs - viaPeer.latencyMs;
    expect(added).toBeGreaterThan(-50);
    expect(added).toBeLessThan(150);
  }, 30_000);

  it("adds little latency from the cloud to the device's speaker", async () => {
    const { device, peer, stream, bridgeIdentity } = await setup("u-latency-down");
    const mic = await publishMic(peer);
    cleanups.push(() => mic.close());
    const bridged = recordTimed(device, bridgeIdentity, "speaker");
    const direct = recordTimed(device, "peer", mic.name);
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
    expect(viaPeer.frames).toBeGreaterThan(50);
    expect(viaBridge.frames).toBeGreaterThan(50);
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
    const room = uniqueRoom(userId);
    const join = await app.grpc.joinRoom({ userId, roomName: room, targetIdentity: "glasses" });
    expect(join.success).toBe(true);
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(
      () => device.close(),
      () => app.grpc.leaveRoom({ userId }),
    );
    const stream = openCloudStream(app.grpc, userId);
    cleanups.push(() => stream.cancel());
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
      feedPaced(tone, (chunk) => device.sendData(leBytes(chunk))),
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
    // Room audio is handed on at once; TTS sent in real time waits at most a few frames.
    expect(ms(toCloud, 0.5)).toBeLessThan(10);
    expect(ms(toRoom, 0.5)).toBeGreaterThan(0);
    expect(ms(toRoom, 0.5)).toBeLessThan(30);
  }, 30_000);
});
