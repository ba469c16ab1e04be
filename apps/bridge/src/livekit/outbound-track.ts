import {
  AudioFrame,
  AudioResampler,
  AudioSource,
  LocalAudioTrack,
  type LocalParticipant,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { concatInt16 } from "@mentra/pcm";
import { createFramer } from "../audio/framer.js";
import type { Underruns } from "./late-ledger.js";
import { createOutboundPump } from "./outbound-pump.js";

/**
 * Chunks of any size are cut to frames of this length for captureFrame. rtc-node plays
 * 10 ms at a time whatever the frame size; 20 ms (one Opus packet) halves the FFI calls,
 * each a protobuf request and a callback on the JS thread, against 10 ms frames.
 */
const FRAME_MS = 20;
/** Silent frames written after a clear: one 20 ms packet's worth, see clear(). */
const FLUSH_FRAMES = 20 / FRAME_MS;

/** Options of {@link publishOutboundTrack}. */
export interface OutboundTrackOptions {
  /** Track name shown in the room, e.g. "speaker" or "tts". */
  readonly name: string;
  /** Rate of the published source; other rates are resampled to it. */
  readonly sampleRate: number;
  /** Channels of the published source (1 or 2); others are remixed. */
  readonly channels: number;
  /** Audio queued inside rtc-node's AudioSource before captureFrame waits. */
  readonly sourceQueueMs: number;
  /** Cloud audio held before an utterance starts playing (see OutboundPumpOptions.primeMs). */
  readonly jitterBufferMs: number;
  /** Lateness allowed before cloud audio is dropped (see OutboundPumpOptions.maxLateMs). */
  readonly maxLateMs: number;
  /** Audio the bridge holds beyond that queue before write() makes the sender wait. */
  readonly maxBufferMs: number;
  /**
   * Called as each timed frame is captured, with the ms from its audio's receipt to
   * when it will leave the AudioSource's queue (the wait to be captured plus the audio
   * queued ahead).
   */
  readonly onFrameLatency?: (ms: number) => void;
}

/** One published audio track fed by the cloud, paced in real time by the AudioSource. */
export interface OutboundTrack {
  readonly name: string;
  /** The publication's SID. */
  readonly sid: string;
  /**
   * Queues interleaved 16-bit samples at any rate/channels. Resolves once the bridge's
   * buffer is back under `maxBufferMs`, so awaiting it paces the sender. `receivedAt`
   * (performance.now() when the audio reached the bridge) times its frames for
   * `onFrameLatency`; audio written without it (playback) is not timed.
   */
  write(
    samples: Int16Array,
    sampleRate: number,
    channels: number,
    receivedAt?: number,
  ): Promise<void>;
  /** Audio held by the bridge, not yet handed to the AudioSource, in ms. */
  bufferedMs(): number;
  /** Audio in the AudioSource's own queue, in ms. */
  queuedMs(): number;
  /**
   * Audio played out since the track was published, in ms: handed to the AudioSource
   * minus what still waits in its queue (cleared audio never counts).
   */
  playedOutMs(): number;
  /** Audio written since the track was published, in ms: played, queued or buffered. */
  writtenMs(): number;
  /**
   * Underruns since the track was published: the times the AudioSource's queue ran dry
   * inside audio (so the room heard silence, or frames the source had to invent), and
   * their total ms: the next frame already waited in the bridge, or it was cloud audio
   * continuing cloud audio, coming less than LATE_GAP_MS after (read or sent late). A
   * longer pause in what the cloud sends, or cloud audio after playback or a clear, is
   * not counted. `lateDroppedMs`: cloud audio dropped after an underrun to
   * play the rest of its utterance on schedule (what came late in a burst beyond the
   * jitter buffer), so a late read never adds lasting delay.
   */
  underruns(): Underruns;
  /**
   * Drops everything not played yet, resampler state included, so the next write starts
   * clean; returns the dropped duration in ms. The room hears silence within one frame:
   * 20 ms of it are written, so the last packet of what played is sent whole.
   */
  clear(): number;
  /**
   * Resolves when every written sample has been played out (or the track closed); the
   * resamplers' tails are flushed first, so the last samples are not held back.
   */
  drained(): Promise<void>;
  /** Unpublishes and releases the source. Idempotent; drops what was not played. */
  close(): Promise<void>;
}

/** Publishes a microphone-kind audio track on `participant` and returns its writer. */
export async function publishOutboundTrack(
  participant: LocalParticipant,
  options: OutboundTrackOptions,
): Promise<OutboundTrack> {
  const { sampleRate, channels } = options;
  const source = new AudioSource(sampleRate, channels, options.sourceQueueMs);
  const track = LocalAudioTrack.createAudioTrack(options.name, source);
  const publishOptions = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
  let publication: Awaited<ReturnType<LocalParticipant["publishTrack"]>>;
  try {
    publication = await participant.publishTrack(track, publishOptions);
  } catch (error) {
    await track.close().catch(() => {});
    await source.close().catch(() => {});
    throw error;
  }
  const samplesPerFrame = (sampleRate * FRAME_MS) / 1000;
  const framer = createFramer({ samplesPerFrame, channels });
  const resamplers = new Map<number, AudioResampler>();
  let waiters: (() => void)[] = [];
  let drainWaiters: (() => void)[] = [];
  let closed = false;
  let closing: Promise<void> | undefined;

  const bufferedMs = () =>
    pump.pendingFrames() * FRAME_MS + (framer.pendingSamples / channels / sampleRate) * 1000;
  const wake = () => {
    if (bufferedMs() > options.maxBufferMs && !closed) return;
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  };
  const wakeDrained = () => {
    const ready = drainWaiters;
    drainWaiters = [];
    for (const resolve of ready) resolve();
  };
  const pump = createOutboundPump({
    source,
    sampleRate,
    channels,
    frameMs: FRAME_MS,
    samplesPerFrame,
    primeMs: options.jitterBufferMs,
    maxLateMs: options.maxLateMs,
    ...(options.onFrameLatency !== undefined ? { onFrameLatency: options.onFrameLatency } : {}),
    isClosed: () => closed,
    onCaptured: wake,
    onPlayedOut: wakeDrained,
  });
  const push = pump.push;

  const closeResamplers = () => {
    for (const resampler of resamplers.values()) resampler.close();
    resamplers.clear();
  };

  const convert = (samples: Int16Array, rate: number, inChannels: number): Int16Array => {
    const mixed = remix(samples, inChannels, channels);
    if (rate === sampleRate) return mixed;
    let resampler = resamplers.get(rate);
    if (resampler === undefined) {
      resampler = new AudioResampler(rate, sampleRate, channels);
      resamplers.set(rate, resampler);
    }
    const frames = resampler.push(new AudioFrame(mixed, rate, channels, mixed.length / channels));
    return concatInt16(frames.map((f) => f.data));
  };

  return {
    name: options.name,
    sid: publication.sid ?? "",
    write(samples, rate, inChannels, receivedAt = Number.NaN) {
      if (closed) return Promise.reject(new Error(`track ${options.name} is closed`));
      for (const frame of framer.push(convert(samples, rate, inChannels))) push(frame, receivedAt);
      void pump.run();
      if (bufferedMs() <= options.maxBufferMs) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    bufferedMs,
    queuedMs: () => source.queuedDuration,
    playedOutMs: () => Math.max(0, pump.capturedMs() - source.queuedDuration),
    writtenMs: () => pump.capturedMs() + bufferedMs(),
    underruns: pump.underruns,
    clear() {
      const queued = source.queuedDuration;
      const dropped = bufferedMs() + queued;
      pump.dropPending();
      framer.flush({ pad: false });
      pump.uncapture(queued);
      closeResamplers();
      if (!closed) {
        source.clearQueue();
        // WebRTC encodes 20 ms per packet: a half packet already handed over would never
        // be sent once the track falls silent, so the room would hear 10 ms less than
        // played. Silence completes it (and is part of the track's timeline).
        pump.resetDry();
        for (let i = 0; i < FLUSH_FRAMES; i++) {
          push(new Int16Array(samplesPerFrame * channels), Number.NaN);
        }
        void pump.run();
      }
      wake();
      return dropped;
    },
    drained() {
      if (closed) return Promise.resolve();
      for (const resampler of resamplers.values()) {
        const tail = concatInt16(resampler.flush().map((f) => f.data));
        for (const frame of framer.push(tail)) push(frame, Number.NaN);
      }
      closeResamplers();
      const tail = framer.flush({ pad: true });
      if (tail !== undefined) push(tail, Number.NaN);
      void pump.run();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    close() {
      closing ??= (async () => {
        closed = true;
        pump.dropPending();
        wake();
        wakeDrained();
        closeResamplers();
        if (publication.sid !== undefined) {
          await participant.unpublishTrack(publication.sid).catch(() => {});
        }
        await track.close().catch(() => {});
        await source.close().catch(() => {});
      })();
      return closing;
    },
  };
}

/** Converts interleaved samples between mono and stereo; returns the input when equal. */
function remix(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return samples;
  const frames = samples.length / from;
  const out = new Int16Array(frames * to);
  if (from === 1) {
    for (let i = 0; i < frames; i++) {
      const value = samples[i] ?? 0;
      for (let c = 0; c < to; c++) out[i * to + c] = value;
    }
    return out;
  }
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < from; c++) sum += samples[i * from + c] ?? 0;
    const value = Math.round(sum / from);
    for (let c = 0; c < to; c++) out[i * to + c] = value;
  }
  return out;
}
