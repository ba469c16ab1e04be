import type { ByteOrderSetting } from "../config.js";
import type { Logger } from "../logger.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import type { PlaybackSettings } from "../playback/playback.js";
import type { JoinGate } from "../security/join-limits.js";
import type { TokenSource } from "./rejoin-policy.js";
import type { ConnectRoomLink } from "./room-connection.js";
import type { Session } from "./session.js";

/** Options of {@link Session.open}. */
export interface SessionOptions {
  readonly userId: string;
  readonly roomName: string;
  readonly url: string;
  readonly targetIdentity: string;
  readonly tokens: TokenSource;
  readonly connectTimeoutMs: number;
  /** Bounds the room connects running at once; none: unbounded. */
  readonly joinGate?: JoinGate;
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
  /** How often to read the room link's WebRTC statistics; 0 never. */
  readonly statsIntervalMs: number;
  readonly track: { readonly bufferMs: number; readonly sourceQueueMs: number };
  /** How PlayAudio downloads, checks URLs and reports progress. */
  readonly playback: PlaybackSettings;
  readonly logger: Logger;
  /** Where the time audio spends inside the bridge is reported. */
  readonly audioLatency: AudioLatencySink;
  /** Called once, after the session closed, with why. */
  readonly onClosed: (session: Session) => void;
  /** Joins the room (at open and at every rejoin); default: the real one in ../livekit. */
  readonly connect?: ConnectRoomLink;
}
