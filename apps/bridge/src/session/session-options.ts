import type { ByteOrderSetting } from "../config.js";
import type { Logger } from "../logger.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import type { PlaybackSettings } from "../playback/playback.js";
import type { TrackSettings } from "./published-tracks.js";
import type { ConnectRoomLink, RoomConnectionOptions } from "./room-connection.js";

/**
 * Options of `Session.open`. `S` is the session `onClosed` is told of (the Session class
 * itself; a type parameter, so this file does not import session.ts, which imports it).
 * Where and how to join the room are the room connection's options.
 */
export interface SessionOptions<S = unknown>
  extends Pick<
    RoomConnectionOptions,
    | "userId"
    | "roomName"
    | "url"
    | "targetIdentity"
    | "tokens"
    | "connectTimeoutMs"
    | "joinGate"
    | "statsIntervalMs"
  > {
  readonly streamGraceMs: number;
  readonly byteOrder: ByteOrderSetting;
  readonly receive: { readonly sampleRate: number; readonly frameMs: number };
  readonly cloudQueueMs: number;
  /** Longest standing delay of room audio while a stream reads it (ms); 0 off. */
  readonly cloudMaxDelayMs: number;
  /** Tracks to publish at join (and at every rejoin), before any audio. */
  readonly publishAtJoin: readonly number[];
  /** Room audio kept after it was sent, for AudioSession resumes (ms); 0 none. */
  readonly replayMs: number;
  readonly track: TrackSettings;
  /** How PlayAudio downloads, checks URLs and reports progress. */
  readonly playback: PlaybackSettings;
  readonly logger: Logger;
  /** Where the time audio spends inside the bridge is reported. */
  readonly audioLatency: AudioLatencySink;
  /** Called once, after the session closed, with why. */
  readonly onClosed: (session: S) => void;
  /** Joins the room (at open and at every rejoin); default: the real one in ../livekit. */
  readonly connect?: ConnectRoomLink;
}
