import { createDropOldestQueue, type DropOldestQueue } from "@mentra/pcm";
import { Listeners } from "../listeners.js";
import type { JoinRequest } from "../rpc-calls.js";
import type { InFrame } from "./call.js";
import type { OutChunk } from "./out-chunk.js";
import { createPendingControls, type PendingControls } from "./pending-controls.js";
import type { SessionRouting, SessionTarget } from "./routing.js";
import type { SessionEvents, SessionSettings } from "./types.js";

/**
 * What the parts of one session (calls, recovery, liveness, handover) share: its request
 * and settings, its queues and events, and where it is now. Built once by openSession.
 */
export interface SessionContext {
  readonly userId: string;
  readonly request: JoinRequest;
  readonly settings: SessionSettings;
  readonly routing: SessionRouting;
  readonly listeners: Listeners<SessionEvents>;
  /** Cloud → room: audio, marks and clears until a call takes them. */
  readonly outgoing: DropOldestQueue<OutChunk>;
  /** Room → cloud: audio until the reader of `audio` takes it. */
  readonly incoming: DropOldestQueue<InFrame>;
  readonly pending: PendingControls;
  /** Aborted when the session closes; every call, sleep and probe of the session ends. */
  readonly signal: AbortSignal;
  /** The bridge the session is on now (recovery and handover move it). */
  target: SessionTarget;
  /** The last room-audio sequence received, for resuming; 0 means start fresh. */
  lastSequence: number;
  /** When room audio last came (the watchdog's clock). */
  lastAudioAt: number;
  /** When the bridge last sent anything or answered a probe (the liveness clock). */
  lastActivityAt: number;
  /** The latest room-audio frames, from which a handover starts looking for the junction. */
  readonly recentAudio: InFrame[];
  readonly counts: SessionCounts;
}

/** The counters {@link BridgeSession.stats} reports. */
export interface SessionCounts {
  reconnects: number;
  rejoins: number;
  moves: number;
  /** Room-audio chunks lost across reconnects (older than the bridge's replay window). */
  resumeMissedChunks: number;
}

/** The context of a session that has just joined on `routing`'s pick. */
export function createSessionContext(
  routing: SessionRouting,
  request: JoinRequest,
  settings: SessionSettings,
  signal: AbortSignal,
): SessionContext {
  const listeners = new Listeners<SessionEvents>();
  const outgoing = timedQueue<OutChunk>(settings.sendBufferMs);
  return {
    userId: request.userId,
    request,
    settings,
    routing,
    listeners,
    outgoing,
    incoming: timedQueue<InFrame>(settings.receiveBufferMs),
    pending: createPendingControls({
      outgoing,
      onMark: (outcome) => listeners.emit("mark", outcome),
    }),
    signal,
    target: routing.pick(),
    lastSequence: 0,
    lastAudioAt: Date.now(),
    lastActivityAt: Date.now(),
    recentAudio: [],
    counts: { reconnects: 0, rejoins: 0, moves: 0, resumeMissedChunks: 0 },
  };
}

/**
 * A queue bounded by milliseconds of audio: the oldest audio goes first, and items of no
 * duration (marks, clears) are never dropped.
 */
function timedQueue<T extends { readonly durationMs: number }>(capacityMs: number) {
  return createDropOldestQueue<T>({
    capacity: capacityMs,
    weigh: (item) => item.durationMs,
    keep: (item) => item.durationMs === 0,
  });
}
