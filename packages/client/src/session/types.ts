import type { BackoffOptions } from "../backoff.js";
import type { BridgeError } from "../errors.js";
import type { Playback, PlayOptions } from "../playback.js";
import type { SessionStatus } from "../rpc-calls.js";
import type { SpliceMethod } from "../stream-splicer.js";

/** One frame of room audio as the cloud receives it. */
export interface AudioFrame {
  /** 16-bit samples, interleaved when `channels` > 1. */
  readonly samples: Int16Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Wall-clock ms at which the bridge received the frame's first sample. */
  readonly timestampMs: number;
}

/** How a mark ended: played out into the room, or dropped (a clear, a lost session). */
export type MarkOutcome =
  | {
      readonly played: true;
      readonly name: string;
      readonly trackId: number;
      readonly positionMs: number;
    }
  | {
      readonly played: false;
      readonly name: string;
      readonly trackId: number;
      readonly reason: string;
    };

/** What a {@link BridgeSession.clear} did. */
export interface ClearOutcome {
  readonly trackId: number;
  /** How much of the cleared utterance the room heard (ms). */
  readonly playedMs: number;
  /** Audio dropped unplayed, on the bridge and still queued in this client (ms). */
  readonly droppedMs: number;
  /** Marks that will never play, in order. */
  readonly marksDropped: readonly string[];
}

/** Flow feedback for one track (see {@link SessionEvents.trackStats}). */
export interface TrackStats {
  readonly trackId: number;
  /** Written to the bridge but not played yet (ms): keep it small to react fast. */
  readonly queuedMs: number;
  /** Played out since the track was published (ms). */
  readonly playedMs: number;
  /** Dropped by clears, in total (ms). */
  readonly clearedMs: number;
  readonly pendingMarks: number;
}

/** Where and how {@link BridgeSession.send} plays audio. */
export interface SendOptions {
  /** 0 speaker (default), 1 app audio, 2 TTS, n > 2 "track_n". */
  readonly trackId?: number;
  /** Default 16000. */
  readonly sampleRate?: number;
  /** Default 1. */
  readonly channels?: number;
}

/** Events of a session; subscribe with {@link BridgeSession.on}. */
export interface SessionEvents {
  /** The stream broke; the client is recovering. */
  reconnecting: (info: { attempt: number; error: BridgeError }) => void;
  /** The stream is back; `rejoined` when the bridge had lost the room and joined again. */
  reconnected: (info: { attempts: number; rejoined: boolean; downtimeMs: number }) => void;
  /** The session ended for good (left, replaced, identity taken); no more audio. */
  disconnected: (error: BridgeError) => void;
  /** A problem that did not end the session (e.g. the bridge refused a chunk). */
  error: (error: BridgeError) => void;
  /** No audio for `watchdogMs` although the device is in the room; `recovered` if it acted. */
  watchdog: (info: { silentMs: number; connected: boolean; recovered: boolean }) => void;
  /** The bridge is shutting down; `moving` when the session moves to another bridge. */
  draining: (info: { deadlineMs: number; reason: string; moving: boolean }) => void;
  /**
   * The bridge drained and the session moved to another bridge (see `endpoints`). Room
   * audio went on without a gap or a duplicate: `splice` tells how the two bridges' streams
   * were joined ("exact" for data packets, "correlated" for a decoded track, "timestamps"
   * when content could not tell, e.g. silence). `tookMs` runs from `draining` to the switch.
   */
  moved: (info: {
    from: string;
    to: string;
    reason: string;
    tookMs: number;
    splice: SpliceMethod;
  }) => void;
  /** A mark played out (or was dropped). */
  mark: (outcome: MarkOutcome) => void;
  /** Flow feedback for a track, every `statsIntervalMs`. */
  trackStats: (stats: TrackStats) => void;
  /** Someone in the room joined, left, muted or unmuted. */
  participant: (event: {
    kind: "joined" | "left" | "muted" | "unmuted";
    identity: string;
    trackSid: string;
  }) => void;
}

/** Settings of a session, from {@link BridgeClientOptions} and join(). */
export interface SessionSettings {
  readonly backoff: BackoffOptions;
  /** Audio sent during an outage waits up to this long; older audio is dropped and counted. */
  readonly sendBufferMs: number;
  /** Received audio not yet read from `audio` is kept up to this long. */
  readonly receiveBufferMs: number;
  /** Silence (with the device in the room) that triggers a status check; 0 disables. */
  readonly watchdogMs: number;
  /**
   * A stream quiet this long is probed with GetStatus (deadline the same); a failed probe
   * breaks the stream so it reconnects. Catches dead connections where HTTP/2 PINGs do
   * not (Bun). 0 disables.
   */
  readonly livenessMs: number;
  /**
   * Called for a fresh token whenever the client must re-join. For a handover
   * (`context.handover`) the token's identity must differ from the one in use, so that
   * both bridges can be in the room while the session moves.
   */
  readonly getToken: TokenSource | undefined;
  /** Re-join after another participant took the bridge's identity (default false). */
  readonly recoverFromIdentityTaken: boolean;
  /** How often the bridge sends TrackStats (ms); 0 the bridge's default (100), -1 never. */
  readonly statsIntervalMs: number;
  /**
   * How long a handover looks for where the new bridge's room audio continues the old
   * one's before joining them by receive time (default 5000 ms; a loaded bridge may lag
   * the other by hundreds of ms, and receive times are then no guide).
   */
  readonly spliceTimeoutMs?: number;
}

/** Mints a LiveKit token for a (re-)join; see {@link SessionSettings.getToken}. */
export type TokenSource = (
  userId: string,
  roomName: string,
  context?: { readonly handover: boolean },
) => Promise<string>;

/** Counters of a session, for dashboards and leak checks. */
export interface SessionStats {
  readonly reconnects: number;
  readonly rejoins: number;
  /** Times the session moved to another bridge ahead of a drain. */
  readonly moves: number;
  /** The bridge the session is on now (its base URL; empty for a custom transport). */
  readonly endpoint: string;
  readonly sendDroppedMs: number;
  readonly receiveDroppedMs: number;
  readonly sendQueuedMs: number;
  /** The last room-audio sequence received; a reconnect resumes after it. */
  readonly lastSequence: number;
  /** Room-audio chunks lost across reconnects (older than the bridge's replay window). */
  readonly resumeMissedChunks: number;
  /** Listeners, timers and open calls held; 0 once the session is closed. */
  readonly openResources: number;
}

/** One user's session on the bridge, kept alive across stream breaks and bridge restarts. */
export interface BridgeSession {
  readonly userId: string;
  /** Room audio; one reader at a time. Ends when the session ends. */
  readonly audio: AsyncIterable<AudioFrame>;
  /** Queues PCM for the room; never blocks (bounded by `sendBufferMs`). */
  send(samples: Int16Array, options?: SendOptions): void;
  /**
   * Places a named mark after the audio sent so far on a track (default 0); resolves once
   * that audio has played out into the room, or with `played: false` if a clear or the
   * loss of the session drops it.
   */
  mark(name: string, options?: { trackId?: number }): Promise<MarkOutcome>;
  /**
   * Barge-in: drops the track's audio not played yet, here and on the bridge (the room is
   * silent at once), and says how much of the utterance was heard.
   */
  clear(trackId?: number): Promise<ClearOutcome>;
  /** Plays an MP3/WAV URL into the room, with live events. */
  play(url: string, options?: PlayOptions): Playback;
  /** Stops one playback (by request id) or all of the user's. */
  stop(requestId?: string, options?: { signal?: AbortSignal }): Promise<string>;
  /** The user's state on the bridge. */
  status(options?: { signal?: AbortSignal }): Promise<SessionStatus>;
  /** Leaves the room and releases everything. Idempotent. */
  leave(reason?: string): Promise<void>;
  /**
   * Moves the session to its best-ranked bridge if it is on another one (bridges were
   * added, or its own came back), the way a drain does: without a gap. Returns whether a
   * move started; `moved` reports its end.
   */
  rebalance(): boolean;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof SessionEvents>(event: K, listener: SessionEvents[K]): () => void;
  stats(): SessionStats;
  /** Whether the session has ended. */
  readonly closed: boolean;
}
