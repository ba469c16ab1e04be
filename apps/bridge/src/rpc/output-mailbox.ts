import type { CloudChunk } from "../session/cloud-chunk.js";
import type { SessionEvent } from "../session/session-events.js";

/** What an AudioSession call sends next. */
export type Output =
  | { readonly kind: "event"; readonly event: SessionEvent }
  | { readonly kind: "audio"; readonly chunk: CloudChunk }
  | { readonly kind: "end" };

/** Events kept for a consumer that does not read; beyond it, the oldest stats go first. */
const MAX_EVENTS = 1_000;

/**
 * Merges a session's events with its room audio for one AudioSession call. Events go
 * first and are kept (flow-feedback stats are the first dropped if the consumer stalls);
 * audio passes through a single slot, so the session's bounded cloud queue, not this
 * mailbox, is where a slow consumer's audio waits and is dropped.
 */
export class OutputMailbox {
  private readonly events: SessionEvent[] = [];
  private audio: CloudChunk | undefined;
  private ended: { error: unknown } | undefined;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;
  /** Events dropped because the consumer stalled. */
  droppedEvents = 0;

  /** Adds an event; never waits. */
  event(event: SessionEvent): void {
    if (this.ended !== undefined) return;
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) {
      const stats = this.events.findIndex((e) => e.type === "track_stats");
      this.events.splice(stats === -1 ? 0 : stats, 1);
      this.droppedEvents++;
    }
    this.wake();
  }

  /** Hands over one chunk of audio; resolves once the slot is free for the next. */
  async audioChunk(chunk: CloudChunk): Promise<void> {
    while (this.audio !== undefined && this.ended === undefined) {
      await new Promise<void>((resolve) => {
        this.wakeWriter = resolve;
      });
    }
    if (this.ended !== undefined) return;
    this.audio = chunk;
    this.wake();
  }

  /** Ends the output: with OK when `error` is undefined, else with it (after the events). */
  end(error?: unknown): void {
    this.ended ??= { error };
    this.wake();
    this.wakeWriter?.();
  }

  /** The next output, waiting for one; rejects with the end's error once drained. */
  async next(): Promise<Output> {
    for (;;) {
      const event = this.events.shift();
      if (event !== undefined) return { kind: "event", event };
      const chunk = this.audio;
      if (chunk !== undefined) {
        this.audio = undefined;
        const writer = this.wakeWriter;
        this.wakeWriter = undefined;
        writer?.();
        return { kind: "audio", chunk };
      }
      if (this.ended !== undefined) {
        if (this.ended.error !== undefined) throw this.ended.error;
        return { kind: "end" };
      }
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
    }
  }

  private wake(): void {
    const reader = this.wakeReader;
    this.wakeReader = undefined;
    reader?.();
  }
}
