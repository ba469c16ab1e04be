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

/**
 * Chunks of any size are cut to frames of this length for captureFrame. rtc-node plays
 * 10 ms at a time whatever the frame size; 20 ms (one Opus packet) halves the FFI calls,
 * each a protobuf request and a callback on the JS thread, against 10 ms frames.
 */
const FRAME_MS = 20;
/** Silent frames written after a clear: one 20 ms packet's worth, see clear(). */
const FLUSH_FRAMES = 20 / FRAME_MS;
/**
 * A dry spell shorter than this is not counted as an underrun: the source's queue figure
 * is an estimate from the JS side, good to a timer tick.
 */
const UNDERRUN_SLACK_MS = 5;

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
   * while the next frame already waited in the bridge (so the room heard silence, or
   * frames the source had to invent, inside audio that was there), and their total ms.
   * Gaps in what the cloud sent are not counted: that audio was not there yet.
   */
  underruns(): { readonly count: number; readonly ms: number };
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
  // Frames not yet captured, each with the receipt time of the write() that completed it
  // (NaN when untimed: playback, and the silence and tails the bridge adds itself).
  // `queuedAt` is when the frame was put here (performance.now()), timed or not.
  const pending: {
    readonly samples: Int16Array;
    readonly at: number;
    readonly queuedAt: number;
  }[] = [];
  // When the AudioSource's queue runs dry if nothing more is captured (performance.now()),
  // reckoned from the frames handed to it: the blocked thread that makes an underrun
  // would also hold back any figure read from the source afterwards.
  let dryAt: number | undefined;
  let underrunCount = 0;
  let underrunMs = 0;
  let waiters: (() => void)[] = [];
  let drainWaiters: (() => void)[] = [];
  let pumping = false;
  let closed = false;
  // Milliseconds handed to the AudioSource, less what clear() took back out of its queue.
  let capturedMs = 0;
  let closing: Promise<void> | undefined;

  const bufferedMs = () =>
    pending.length * FRAME_MS + (framer.pendingSamples / channels / sampleRate) * 1000;
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

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (!closed) {
        const frame = pending.shift();
        if (frame === undefined) break;
        if (options.onFrameLatency !== undefined && !Number.isNaN(frame.at)) {
          options.onFrameLatency(performance.now() - frame.at + source.queuedDuration);
        }
        // The source plays on in real time, on its own thread: this frame ends playing a
        // frame's length after what it holds, or after now if it ran dry.
        const now = performance.now();
        countUnderrun(frame.queuedAt, now);
        dryAt = Math.max(now, dryAt ?? now) + FRAME_MS;
        // Counted as captured from the call on, as the AudioSource counts it in its queue:
        // a frame being captured is then in exactly one of the two figures.
        capturedMs += FRAME_MS;
        await source.captureFrame(
          new AudioFrame(frame.samples, sampleRate, channels, samplesPerFrame),
        );
        wake();
      }
    } catch {
      // Capturing fails only once the source is closed; close() settles the waiters.
    } finally {
      pumping = false;
    }
    if (pending.length === 0 && !closed) {
      await source.waitForPlayout().catch(() => {});
      if (pending.length === 0) wakeDrained();
    }
  };

  /** The source ran dry before this frame, queued since `queuedAt`, was captured. */
  const countUnderrun = (queuedAt: number, now: number) => {
    if (dryAt === undefined) return;
    const dryMs = now - Math.max(dryAt, queuedAt);
    if (dryMs > UNDERRUN_SLACK_MS) {
      underrunCount++;
      underrunMs += dryMs;
    }
  };
  const push = (samples: Int16Array, at: number) => {
    pending.push({ samples, at, queuedAt: performance.now() });
  };

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
      void pump();
      if (bufferedMs() <= options.maxBufferMs) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    bufferedMs,
    queuedMs: () => source.queuedDuration,
    playedOutMs: () => Math.max(0, capturedMs - source.queuedDuration),
    writtenMs: () => capturedMs + bufferedMs(),
    underruns: () => ({ count: underrunCount, ms: Math.round(underrunMs) }),
    clear() {
      const queued = source.queuedDuration;
      const dropped = bufferedMs() + queued;
      pending.length = 0;
      framer.flush({ pad: false });
      capturedMs = Math.max(0, capturedMs - queued);
      closeResamplers();
      if (!closed) {
        source.clearQueue();
        // WebRTC encodes 20 ms per packet: a half packet already handed over would never
        // be sent once the track falls silent, so the room would hear 10 ms less than
        // played. Silence completes it (and is part of the track's timeline).
        dryAt = undefined;
        for (let i = 0; i < FLUSH_FRAMES; i++) {
          push(new Int16Array(samplesPerFrame * channels), Number.NaN);
        }
        void pump();
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
      void pump();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    close() {
      closing ??= (async () => {
        closed = true;
        pending.length = 0;
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
