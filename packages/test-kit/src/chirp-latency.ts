import { setTimeout as sleep } from "node:timers/promises";
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
import { concatPcm } from "./audio.js";
import type { TestParticipant } from "./participant.js";
import { chirp, findOffset } from "./signal.js";

/**
 * A latency probe: silence, a 1 s chirp (300 → 3000 Hz), silence, at 16 kHz, fed in
 * 20 ms chunks on a real-time schedule. Each 100 ms piece of the chirp survives Opus with
 * a correlation peak above 0.9; the whole second sometimes only reaches 0.3, which is why
 * {@link pathLatency} aligns it piece by piece.
 */
export interface ChirpProbe {
  readonly sampleRate: number;
  /** Samples per 20 ms chunk. */
  readonly chunkSamples: number;
  /** The chirp alone. */
  readonly reference: Int16Array;
  /** Lead-in silence, the chirp, and a tail of silence: what a path is fed. */
  readonly signal: Int16Array;
  /** Samples of lead-in before the chirp starts. */
  readonly leadInSamples: number;
}

/** Options of {@link chirpProbe}. */
export interface ChirpProbeOptions {
  /** Silence before the chirp, long enough for every subscription to be up. Default 2000 ms. */
  readonly leadInMs?: number;
  /** Silence after it, for the last frames to arrive. Default 600 ms. */
  readonly tailMs?: number;
}

const RATE = 16_000;

/** Builds the probe signal. */
export function chirpProbe(options: ChirpProbeOptions = {}): ChirpProbe {
  const reference = chirp({ sampleRate: RATE, durationMs: 1_000, fromHz: 300, toHz: 3_000 });
  const leadInSamples = (RATE * (options.leadInMs ?? 2_000)) / 1000;
  const tail = (RATE * (options.tailMs ?? 600)) / 1000;
  return {
    sampleRate: RATE,
    chunkSamples: RATE / 50,
    reference,
    signal: concatPcm([new Int16Array(leadInSamples), reference, new Int16Array(tail)]),
    leadInSamples,
  };
}

/** A block of received samples and the wall-clock time it became available to its reader. */
export interface TimedFrame {
  readonly samples: Int16Array;
  readonly at: number;
}

/**
 * Hands `signal` to `deliver` in chunks of `chunkSamples` (20 ms), chunk i at start + 20·i
 * ms; returns the wall-clock time each chunk was actually handed over (later than planned
 * when the loop lags).
 */
export async function feedPaced(
  signal: Int16Array,
  chunkSamples: number,
  deliver: (chunk: Int16Array) => unknown,
): Promise<number[]> {
  const handedAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i * chunkSamples < signal.length; i++) {
    const due = start + i * 20 - Date.now();
    if (due > 0) await sleep(due);
    handedAt.push(Date.now());
    await deliver(signal.subarray(i * chunkSamples, (i + 1) * chunkSamples));
  }
  return handedAt;
}

/** A microphone track fed by the caller, so it knows when each sample entered it. */
export interface TimedMic {
  readonly name: string;
  write(samples: Int16Array): Promise<void>;
  close(): Promise<void>;
}

/** Publishes a 16 kHz mono microphone track named `<identity>-mic` on `participant`. */
export async function publishTimedMic(participant: TestParticipant): Promise<TimedMic> {
  const source = new AudioSource(RATE, 1);
  const name = `${participant.identity}-mic`;
  const track = LocalAudioTrack.createAudioTrack(name, source);
  const local = participant.room.localParticipant;
  const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
  const publication = await local?.publishTrack(track, options);
  const perFrame = RATE / 100;
  return {
    name,
    async write(samples) {
      for (let offset = 0; offset < samples.length; offset += perFrame) {
        const frame = new Int16Array(perFrame);
        frame.set(samples.subarray(offset, offset + perFrame));
        await source.captureFrame(new AudioFrame(frame, RATE, 1, perFrame));
      }
    },
    async close() {
      if (publication?.sid !== undefined) {
        await local?.unpublishTrack(publication.sid).catch(() => {});
      }
      await track.close().catch(() => {});
      await source.close().catch(() => {});
    },
  };
}

/** What {@link recordTimedTrack} records. */
export interface TimedRecorder {
  /** Resolves once the track is subscribed and being read. */
  readonly subscribed: Promise<void>;
  /** The frames received so far, with their arrival times (the recording goes on). */
  frames(): readonly TimedFrame[];
  /** Stops reading and returns every frame received, with its arrival time. */
  stop(): Promise<TimedFrame[]>;
}

/**
 * Records the track `trackName` of `fromIdentity`, mono at `sampleRate` (16 kHz by
 * default) in 10 ms frames, each with the wall-clock time it arrived.
 */
export function recordTimedTrack(
  listener: TestParticipant,
  fromIdentity: string,
  trackName: string,
  sampleRate = RATE,
): TimedRecorder {
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
      sampleRate,
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
    frames: () => frames,
    async stop() {
      listener.room.off(RoomEvent.TrackSubscribed, onTrack);
      await Promise.all(streams.map((reader) => reader.cancel().catch(() => {})));
      await Promise.allSettled(readers);
      return frames;
    },
  };
}

/** One path's latency, from {@link pathLatency}. */
export interface PathLatency {
  /** Per received frame inside the chirp: arrival − hand-over of its source chunk, ms. */
  readonly latenciesMs: readonly number[];
  /** Their median. */
  readonly latencyMs: number;
  /** Median correlation peak of the 100 ms pieces (how surely each was found). */
  readonly peak: number;
  /** Correlation peak of the whole chirp. */
  readonly wholePeak: number;
}

/** The chirp is aligned in pieces of this length: a jitter buffer may stretch time between them. */
const SEGMENT_SAMPLES = 1_600;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/**
 * One path's latency. Each 100 ms piece of the chirp is found in the recording by
 * cross-correlation near where the whole chirp lines up best, because the receiver's
 * jitter buffer may add or drop a few ms of audio mid-chirp and Opus may shift the phase
 * of some bands, which would spoil a single alignment of the whole second. Every recorded
 * frame inside a piece is matched to the 20 ms source chunk its middle sample came from;
 * its latency is its arrival − that chunk's hand-over.
 */
export function pathLatency(
  probe: ChirpProbe,
  frames: readonly TimedFrame[],
  handedAt: readonly number[],
): PathLatency {
  const { reference } = probe;
  const recording = concatPcm(frames.map((f) => f.samples));
  if (recording.length < reference.length / 2) {
    return { latenciesMs: [], latencyMs: Number.NaN, peak: 0, wholePeak: 0 };
  }
  const whole = findOffset(reference, recording, probe.sampleRate);
  const starts: number[] = [];
  let total = 0;
  for (const frame of frames) {
    starts.push(total);
    total += frame.samples.length;
  }
  const latencies: number[] = [];
  const peaks: number[] = [];
  for (let k = 0; k * SEGMENT_SAMPLES < reference.length; k++) {
    const piece = reference.subarray(k * SEGMENT_SAMPLES, (k + 1) * SEGMENT_SAMPLES);
    const from = Math.max(0, whole.offsetSamples + k * SEGMENT_SAMPLES - SEGMENT_SAMPLES);
    const window = recording.subarray(from, from + 3 * SEGMENT_SAMPLES);
    if (window.length < SEGMENT_SAMPLES) continue;
    const found = findOffset(piece, window, probe.sampleRate);
    peaks.push(found.peak);
    const at = from + found.offsetSamples;
    frames.forEach((frame, i) => {
      const inPiece = Math.floor((starts[i] ?? 0) + frame.samples.length / 2) - at;
      if (inPiece < 0 || inPiece >= piece.length) return;
      const source = probe.leadInSamples + k * SEGMENT_SAMPLES + inPiece;
      const handed = handedAt[Math.floor(source / probe.chunkSamples)];
      if (handed !== undefined) latencies.push(frame.at - handed);
    });
  }
  return {
    latenciesMs: latencies,
    latencyMs: median(latencies),
    peak: median(peaks),
    wholePeak: whole.peak,
  };
}
