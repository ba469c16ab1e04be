import type { BoundedAudioQueue } from "../bounded-audio-queue.js";
import type { Listeners } from "../listeners.js";
import type { JoinRequest } from "../rpc-calls.js";
import type { InFrame } from "./call.js";
import type { OutChunk } from "./out-chunk.js";
import type { PendingControls } from "./pending-controls.js";
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
  readonly outgoing: BoundedAudioQueue<OutChunk>;
  /** Room → cloud: audio until the reader of `audio` takes it. */
  readonly incoming: BoundedAudioQueue<InFrame>;
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
