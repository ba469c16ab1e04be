import type { DropOldestQueue } from "@mentra/pcm";
import { BridgeError } from "../errors.js";
import type { OutChunk, Pending } from "./out-chunk.js";
import type { ClearOutcome, MarkOutcome } from "./types.js";

/** The session's marks and clears from the moment they are queued until the bridge answers. */
export interface PendingControls {
  /** Queues a mark after the audio queued so far on the track. */
  mark(trackId: number, name: string): Promise<MarkOutcome>;
  /** Drops what the client holds for the track and queues a clear ahead of all audio. */
  clear(trackId: number): Promise<ClearOutcome>;
  /** The bridge played a mark out. */
  markPlayed(played: { trackId: number; name: string; positionMs: bigint }): void;
  /** The bridge cleared a track. */
  cleared(cleared: {
    trackId: number;
    marksDropped: readonly string[];
    playedMs: bigint;
    droppedMs: bigint;
  }): void;
  /** Puts the marks and clears that an ended stream carried back at the front of the queue. */
  resend(): void;
  /**
   * Ends marks and clears the bridge can no longer answer (its session is gone): all, or
   * those `sentOn` carried.
   */
  drop(reason: string, sentOn?: AbortController): void;
  /** Marks and clears not answered yet. */
  readonly size: number;
}

/** Options of {@link createPendingControls}. */
export interface PendingControlsOptions {
  readonly outgoing: DropOldestQueue<OutChunk>;
  /** Every mark's outcome, as the `mark` event. */
  readonly onMark: (outcome: MarkOutcome) => void;
}

type PendingMark = Pending & {
  trackId: number;
  name: string;
  settle: (o: MarkOutcome) => void;
};
type PendingClear = Pending & {
  trackId: number;
  local: { droppedMs: number; marksDropped: string[] };
  resolve: (outcome: ClearOutcome) => void;
  reject: (error: BridgeError) => void;
};

/** Tracks marks and clears sent and not yet answered, oldest first. */
export function createPendingControls(options: PendingControlsOptions): PendingControls {
  const { outgoing, onMark } = options;
  const pendingMarks: PendingMark[] = [];
  const pendingClears: PendingClear[] = [];

  /** Settles the pending mark `name` of the track, if any, and reports the outcome. */
  function settleMark(outcome: MarkOutcome) {
    const { trackId, name } = outcome;
    const index = pendingMarks.findIndex((m) => m.trackId === trackId && m.name === name);
    if (index !== -1) pendingMarks.splice(index, 1)[0]?.settle(outcome);
    onMark(outcome);
  }

  return {
    mark(trackId, name) {
      return new Promise<MarkOutcome>((settle) => {
        const pending = { trackId, name, settle, sentOn: undefined };
        pendingMarks.push(pending);
        outgoing.push({ kind: "mark", trackId, name, durationMs: 0, pending });
      });
    },
    clear(trackId) {
      // What this client still holds for the track goes first, without being sent.
      const removed = outgoing.removeWhere(
        (item) => item.kind !== "clear" && item.trackId === trackId,
      );
      const local = { droppedMs: 0, marksDropped: [] as string[] };
      for (const item of removed) {
        local.droppedMs += item.durationMs;
        if (item.kind === "mark") {
          local.marksDropped.push(item.name);
          settleMark({ played: false, name: item.name, trackId, reason: "cleared" });
        }
      }
      return new Promise<ClearOutcome>((resolve, reject) => {
        const pending = { trackId, local, resolve, reject, sentOn: undefined };
        pendingClears.push(pending);
        outgoing.pushFront({ kind: "clear", trackId, name: "", durationMs: 0, pending });
      });
    },
    markPlayed({ trackId, name, positionMs }) {
      settleMark({ played: true, name, trackId, positionMs: Number(positionMs) });
    },
    cleared({ trackId, marksDropped, playedMs, droppedMs }) {
      for (const name of marksDropped) {
        settleMark({ played: false, name, trackId, reason: "cleared" });
      }
      const index = pendingClears.findIndex((c) => c.trackId === trackId);
      const clear = index === -1 ? undefined : pendingClears.splice(index, 1)[0];
      clear?.resolve({
        trackId,
        playedMs: Number(playedMs),
        droppedMs: Number(droppedMs) + (clear?.local.droppedMs ?? 0),
        marksDropped: [...(clear?.local.marksDropped ?? []), ...marksDropped],
      });
    },
    resend() {
      const again: OutChunk[] = [
        ...pendingClears.map((clear) => ({
          kind: "clear" as const,
          trackId: clear.trackId,
          name: "",
          durationMs: 0 as const,
          pending: clear,
        })),
        ...pendingMarks.map((mark) => ({
          kind: "mark" as const,
          trackId: mark.trackId,
          name: mark.name,
          durationMs: 0 as const,
          pending: mark,
        })),
      ];
      for (const item of again.reverse()) {
        if (item.kind === "audio" || item.pending.sentOn === undefined) continue;
        item.pending.sentOn = undefined;
        outgoing.pushFront(item);
      }
    },
    drop(reason, sentOn) {
      const dropped = (p: Pending) => sentOn === undefined || p.sentOn === sentOn;
      for (const mark of pendingMarks.filter(dropped)) {
        pendingMarks.splice(pendingMarks.indexOf(mark), 1);
        mark.settle({ played: false, name: mark.name, trackId: mark.trackId, reason });
      }
      for (const clear of pendingClears.filter(dropped)) {
        pendingClears.splice(pendingClears.indexOf(clear), 1);
        clear.reject(new BridgeError("unavailable", `clear of track ${clear.trackId}: ${reason}`));
      }
    },
    get size() {
      return pendingMarks.length + pendingClears.length;
    },
  };
}
