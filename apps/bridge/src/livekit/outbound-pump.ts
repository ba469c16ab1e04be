import { AudioFrame, type AudioSource } from "@livekit/rtc-node";
import { createLateLedger, type Underruns } from "./late-ledger.js";

/**
 * A dry spell shorter than this is not counted as an underrun: the source's queue figure
 * is an estimate from the JS side, good to a timer tick.
 */
const UNDERRUN_SLACK_MS = 5;
/**
 * Cloud audio that arrives less than this after its track's source ran dry continues the
 * same utterance: it was read or sent late, and the room heard the wait as a gap inside it
 * (an underrun). Audio arriving later starts a new utterance after a pause.
 */
export const LATE_GAP_MS = 200;

/** Options of {@link createOutboundPump}. */
export interface OutboundPumpOptions {
  readonly source: AudioSource;
  readonly sampleRate: number;
  readonly channels: number;
  /** Length of every frame pushed, in ms. */
  readonly frameMs: number;
  /** Samples per channel of every frame pushed. */
  readonly samplesPerFrame: number;
  /**
   * Cloud audio (timed frames) starting an utterance plays this long after its first frame
   * came (at once when more than this is held already): the cushion that keeps later
   * frames coming up to this late from leaving a gap. 0 starts at once.
   */
  readonly primeMs: number;
  /**
   * How far cloud audio may fall behind its utterance's schedule (through underruns)
   * before the frames that would play later still are dropped, and counted, until it is
   * back within this. 0 drops whatever is late.
   */
  readonly maxLateMs: number;
  /** See OutboundTrackOptions.onFrameLatency. */
  readonly onFrameLatency?: (ms: number) => void;
  /** Whether the track is closed: the pump stops capturing once it is. */
  readonly isClosed: () => boolean;
  /** Called after each frame is captured (the bridge's buffer shrank). */
  readonly onCaptured: () => void;
  /** Called once every pending frame has played out of the source. */
  readonly onPlayedOut: () => void;
}

/**
 * The frames an outbound track holds before its AudioSource, the loop that captures them
 * in order, and the accounting of what was captured and of the source's underruns.
 */
export interface OutboundPump {
  /** Frames not captured yet. */
  pendingFrames(): number;
  /** Queues one frame; `at` is its audio's receipt time, NaN when untimed. */
  push(samples: Int16Array, at: number): void;
  /** Captures pending frames until none is left (or the track closes); one loop at a time. */
  run(): Promise<void>;
  /** Drops every pending frame (and any wait to prime). */
  dropPending(): void;
  /** Takes `queuedMs` cleared out of the source's queue back from the captured figure. */
  uncapture(queuedMs: number): void;
  /** Forgets when the source runs dry: after a clear, the next frame starts a new run. */
  resetDry(): void;
  /**
   * Milliseconds handed to the AudioSource, or dropped to catch up (their time is over),
   * less what was taken back by uncapture().
   */
  capturedMs(): number;
  /**
   * Underruns counted so far and their total ms (rounded), and the ms of cloud audio
   * dropped to play the rest of its utterance on time after one (see run()).
   */
  underruns(): Underruns;
}

/** Creates the capture loop of one outbound track. */
export function createOutboundPump(options: OutboundPumpOptions): OutboundPump {
  const { source, sampleRate, channels, frameMs, samplesPerFrame, primeMs } = options;
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
  const ledger = createLateLedger(frameMs, options.maxLateMs);
  // Whether the last frame captured was cloud audio: only then can the next continue its
  // utterance (after playback, or the silence a clear writes, cloud audio starts anew).
  let lastTimed = false;
  let pumping = false;
  // The timer that starts an utterance held back to prime (see OutboundPumpOptions.primeMs).
  let primeTimer: ReturnType<typeof setTimeout> | undefined;
  // Milliseconds handed to the AudioSource (or dropped to catch up), less what clear()
  // took back out of its queue.
  let capturedMs = 0;

  /**
   * The source ran dry before this frame, queued since `queuedAt`, was captured: an
   * underrun when the frame already waited then, or when it continues an utterance of
   * cloud audio (see {@link continues}).
   */
  const countUnderrun = (queuedAt: number, timed: boolean, now: number) => {
    if (dryAt === undefined) return;
    if (queuedAt > dryAt && !(timed && continues(queuedAt))) {
      ledger.onSchedule(); // a new utterance (or playback after a pause)
      return;
    }
    const dryMs = now - dryAt;
    if (dryMs > UNDERRUN_SLACK_MS) ledger.underrun(dryMs, timed);
  };

  /**
   * Whether this frame of cloud audio, next to play at `now`, is dropped to put its
   * utterance back on schedule (see LateLedger.dropToCatchUp); its time on the track's
   * timeline is then over: it counts as played, so marks still come.
   */
  const dropToCatchUp = (now: number): boolean => {
    const heldAfterMs = Math.max(0, (dryAt ?? now) - now) + pending.length * frameMs;
    if (!ledger.dropToCatchUp(heldAfterMs, Math.max(primeMs, frameMs))) return false;
    capturedMs += frameMs;
    return true;
  };

  /**
   * Whether cloud audio queued at `queuedAt` continues the utterance the source played
   * last: that was cloud audio too, and this came less than LATE_GAP_MS after the source
   * ran dry (it was read or sent late).
   */
  const continues = (queuedAt: number) =>
    lastTimed && dryAt !== undefined && queuedAt - dryAt < LATE_GAP_MS;

  /**
   * Whether the first pending frame starts an utterance of cloud audio that must wait to
   * prime; if so, a timer runs the pump once the wait is over.
   */
  const holdToPrime = (now: number): boolean => {
    const first = pending[0];
    if (primeMs === 0 || first === undefined || Number.isNaN(first.at)) return false;
    // The source still plays, or this continues an utterance it just finished: no wait.
    if ((dryAt !== undefined && now < dryAt) || continues(first.queuedAt)) return false;
    // More than the buffer already held (a sender ahead of real time) needs no wait.
    if (pending.length * frameMs > primeMs) return false;
    const waitMs = first.queuedAt + primeMs - now;
    if (waitMs <= 0) return false;
    primeTimer ??= setTimeout(() => {
      primeTimer = undefined;
      void run();
    }, waitMs);
    return true;
  };

  const run = async () => {
    if (pumping || holdToPrime(performance.now())) return;
    clearTimeout(primeTimer);
    primeTimer = undefined;
    pumping = true;
    try {
      while (!options.isClosed()) {
        const frame = pending.shift();
        if (frame === undefined) break;
        const timed = !Number.isNaN(frame.at);
        const now = performance.now();
        if (timed && dropToCatchUp(now)) {
          options.onCaptured();
          continue;
        }
        if (options.onFrameLatency !== undefined && timed) {
          options.onFrameLatency(now - frame.at + source.queuedDuration);
        }
        // The source plays on in real time, on its own thread: this frame ends playing a
        // frame's length after what it holds, or after now if it ran dry.
        countUnderrun(frame.queuedAt, timed, now);
        lastTimed = timed;
        dryAt = Math.max(now, dryAt ?? now) + frameMs;
        // Counted as captured from the call on, as the AudioSource counts it in its queue:
        // a frame being captured is then in exactly one of the two figures.
        capturedMs += frameMs;
        await source.captureFrame(
          new AudioFrame(frame.samples, sampleRate, channels, samplesPerFrame),
        );
        options.onCaptured();
      }
    } catch {
      // Capturing fails only once the source is closed; close() settles the waiters.
    } finally {
      pumping = false;
    }
    if (pending.length === 0 && !options.isClosed()) {
      await source.waitForPlayout().catch(() => {});
      if (pending.length === 0) options.onPlayedOut();
    }
  };

  return {
    pendingFrames: () => pending.length,
    push(samples, at) {
      pending.push({ samples, at, queuedAt: performance.now() });
    },
    run,
    dropPending() {
      pending.length = 0;
      clearTimeout(primeTimer);
      primeTimer = undefined;
    },
    uncapture(queuedMs) {
      capturedMs = Math.max(0, capturedMs - queuedMs);
    },
    resetDry() {
      dryAt = undefined;
      ledger.onSchedule();
    },
    capturedMs: () => capturedMs,
    underruns: ledger.figures,
  };
}
