import { createDropOldestQueue, type DropOldestQueue } from "@mentra/pcm";
import { int16ToLittleEndianBytes } from "../audio/pcm.js";
import type { Logger } from "../logger.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import { type CloudChunk, chunkMs } from "./cloud-chunk.js";
import { ReplayBuffer } from "./replay-buffer.js";
import { planResume } from "./resume-plan.js";
import type { SessionError } from "./session-errors.js";
import type { SessionEvent } from "./session-events.js";
import { createStandingDelayGate, STANDING_DELAY_WINDOW_MS } from "./standing-delay.js";

/** Options of {@link Session.attachStream}. */
export interface AttachOptions {
  /** Events for an AudioSession call; StreamAudio has none. */
  readonly onEvent?: (event: SessionEvent) => void;
  /** TrackStats interval for `onEvent`; 0 or less: none. */
  readonly statsIntervalMs?: number;
  /** Resume after this sequence: replay what the cloud missed, skip what it has. */
  readonly resumeAfter?: number;
}

/** What a resume found. */
export interface ResumeOutcome {
  /** The first sequence the stream sends. */
  readonly nextSequence: number;
  /** Chunks after the resume point no longer held (lost). */
  readonly missed: number;
}

/** How a StreamAudio stream attached to a session ends from the session's side. */
export interface StreamAttachment {
  /** Set when the stream resumed (AttachOptions.resumeAfter). */
  readonly resumed: ResumeOutcome | undefined;
  /** Aborted when the session ends the stream; the reason is a SessionError or undefined (OK). */
  readonly signal: AbortSignal;
  /** Next room audio for the cloud; rejects with the end reason once the stream is ended. */
  next(): Promise<IteratorResult<CloudChunk, undefined>>;
  /** The stream is gone (client left or failed): start the grace period. Idempotent. */
  detach(): void;
}

/** Options of {@link CloudStream}. */
export interface CloudStreamOptions {
  readonly userId: string;
  /** Room audio held for the cloud while it does not read, in ms; the oldest goes first. */
  readonly cloudQueueMs: number;
  /**
   * Longest standing delay of room audio in the bridge while a stream reads it (ms); 0 off.
   * Audio that came while no stream was attached is a handover's backlog: it is timed from
   * the attach, so the queue above keeps it whole.
   */
  readonly cloudMaxDelayMs: number;
  /** Room audio kept after it was sent, for resumes (ms); 0 none. */
  readonly replayMs: number;
  /** How long the session waits for a stream before it leaves. */
  readonly streamGraceMs: number;
  readonly logger: Logger;
  readonly audioLatency: AudioLatencySink;
  /** The attached stream went away (detach). */
  onDetached(): void;
  /** No stream came within the grace period. */
  onGraceExpired(): void;
}

/**
 * The session's room audio on its way to the cloud: numbered chunks in a bounded queue,
 * the replay buffer for resumes, the one attached stream and the grace timer that runs
 * while none is attached.
 */
export class CloudStream {
  private readonly queue: DropOldestQueue<CloudChunk>;
  private readonly replay: ReplayBuffer<CloudChunk>;
  private nextSequence = 1;
  // The highest sequence whose time in the bridge was reported (see next()).
  private lastTimedSequence = 0;
  private chunksToCloud = 0;
  // Milliseconds of room audio dropped because its delay stood above cloudMaxDelayMs.
  private delayDroppedMs = 0;
  private attachment: { controller: AbortController; options: AttachOptions } | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CloudStreamOptions) {
    this.queue = createDropOldestQueue<CloudChunk>({
      capacity: options.cloudQueueMs,
      weigh: chunkMs,
    });
    this.replay = new ReplayBuffer<CloudChunk>(options.replayMs, chunkMs);
  }

  /** The attached stream's options; undefined when none is attached. */
  get attached(): AttachOptions | undefined {
    return this.attachment?.options;
  }

  /** Changes the attached stream's TrackStats interval. */
  setStatsInterval(intervalMs: number): void {
    const attachment = this.attachment;
    if (attachment === undefined) return;
    attachment.options = { ...attachment.options, statsIntervalMs: intervalMs };
  }

  /** Numbers and queues room audio for the cloud (and the replay buffer). */
  push(samples: Int16Array, sampleRate: number, timestampMs: number, identity: string): void {
    this.chunksToCloud++;
    const chunk: CloudChunk = {
      pcm: int16ToLittleEndianBytes(samples),
      sampleRate,
      channels: 1,
      timestampMs,
      receivedAt: performance.now(),
      sequence: this.nextSequence++,
      identity,
    };
    this.queue.push(chunk);
    this.replay.add(chunk);
  }

  /** Attaches a stream, ending the one attached with `replaced`; stops the grace timer. */
  attach(options: AttachOptions, replaced: SessionError): StreamAttachment {
    this.end(replaced);
    this.stopGrace();
    const controller = new AbortController();
    const attachment = { controller, options };
    this.attachment = attachment;
    const resumed =
      options.resumeAfter === undefined ? undefined : this.resumeAfter(options.resumeAfter);
    const attachedAt = performance.now();
    const delayGate = createStandingDelayGate({
      boundMs: this.options.cloudMaxDelayMs,
      windowMs: STANDING_DELAY_WINDOW_MS,
    });
    const nextLive = async (): Promise<IteratorResult<CloudChunk, undefined>> => {
      for (;;) {
        const result = await this.queue.next(controller.signal);
        if (result.done === true) return result;
        const now = performance.now();
        if (delayGate.admit(now - Math.max(result.value.receivedAt, attachedAt), now)) {
          return result;
        }
        this.delayDroppedMs += chunkMs(result.value);
      }
    };
    return {
      resumed,
      signal: controller.signal,
      next: async () => {
        const result = await nextLive();
        // Timed once per chunk: a chunk replayed after a resume was timed when first sent.
        if (result.done !== true && result.value.sequence > this.lastTimedSequence) {
          this.lastTimedSequence = result.value.sequence;
          this.options.audioLatency.observe(
            "to_cloud",
            performance.now() - result.value.receivedAt,
          );
        }
        return result;
      },
      detach: () => {
        if (this.attachment !== attachment) return;
        this.attachment = undefined;
        this.options.onDetached();
        if (!controller.signal.aborted) controller.abort();
        this.startGrace();
      },
    };
  }

  /** Ends the attached stream, if any; `reason` undefined ends it with OK. */
  end(reason: SessionError | undefined): void {
    const attachment = this.attachment;
    if (attachment === undefined) return;
    this.attachment = undefined;
    attachment.controller.abort(reason);
  }

  /** Starts (again) the wait for a stream; the session leaves when it ends. */
  startGrace(): void {
    this.stopGrace();
    if (this.closed) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      this.options.onGraceExpired();
    }, this.options.streamGraceMs);
  }

  /** Ends the stream with `reason` and stops the grace timer, for good. */
  close(reason: SessionError | undefined): void {
    this.closed = true;
    this.stopGrace();
    this.end(reason);
  }

  /** Empties the queue for good. */
  closeQueue(): void {
    this.queue.close();
    this.queue.clear();
  }

  /** Figures for GetStatus. */
  figures(): {
    chunksToCloud: number;
    droppedMs: number;
    delayDroppedMs: number;
    queuedMs: number;
  } {
    return {
      chunksToCloud: this.chunksToCloud,
      droppedMs: Math.round(this.queue.droppedWeight),
      delayDroppedMs: Math.round(this.delayDroppedMs),
      queuedMs: Math.round(this.queue.weight),
    };
  }

  /** The grace timer, the attached stream and the open queue. */
  openHandles(): number {
    return (
      (this.graceTimer === undefined ? 0 : 1) +
      (this.attachment === undefined ? 0 : 1) +
      (this.queue.closed ? 0 : 1)
    );
  }

  private stopGrace(): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  /**
   * Puts back into the queue, in order and once each, every chunk after `sequence` that is
   * still held: sent on the broken stream (the replay buffer) or not sent yet (the queue),
   * as much as the queue takes; what it misses is counted (planResume).
   */
  private resumeAfter(sequence: number): ResumeOutcome {
    const { logger, userId } = this.options;
    const last = this.nextSequence - 1;
    if (sequence > last) {
      // A sequence this session never sent: the cloud's is from an earlier session of
      // the user. Nothing to skip or replay; the queue goes out as it is.
      logger.info("stream resume from another session ignored", {
        userId,
        afterSequence: sequence,
        lastSequence: last,
      });
      return { nextSequence: last + 1 - this.queue.size, missed: 0 };
    }
    const plan = planResume(
      sequence,
      last,
      this.replay.after(sequence, last).items,
      this.queue.drain(),
      this.options.cloudQueueMs,
      chunkMs,
    );
    for (const chunk of plan.chunks) this.queue.push(chunk);
    logger.info("stream resumed", {
      userId,
      afterSequence: sequence,
      replayed: plan.chunks.length,
      missed: plan.missed,
    });
    return { nextSequence: plan.nextSequence, missed: plan.missed };
  }
}
