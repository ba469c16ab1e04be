import type { Disconnect } from "./disconnect-kind.js";

/** Where a remote audio frame or data packet came from. */
export interface AudioOrigin {
  /** Identity of the remote participant (the glasses' phone). */
  readonly identity: string;
  /** Track SID for microphone audio; undefined for data packets. */
  readonly trackSid?: string;
  /** A data packet from a participant LiveKit had not announced yet (see DataReceived). */
  readonly unannounced?: boolean;
  /** For an unannounced packet: false when it cannot be the target's and is dropped. */
  readonly accepted?: boolean;
}

/** What a {@link RoomLink} reports; each callback is called synchronously from rtc-node events. */
export interface RoomLinkHandlers {
  /** The room is lost for good (rtc-node gave up resuming) or was left. Called at most once. */
  onDisconnected(disconnect: Disconnect): void;
  /**
   * A data packet from a remote participant matching the target, or from one not yet
   * announced (`origin.unannounced`; drop it unless `origin.accepted`).
   */
  onData(payload: Uint8Array, origin: AudioOrigin): void;
  /** One frame of a subscribed microphone track, at the link's receive format. */
  onAudioFrame(samples: Int16Array, origin: AudioOrigin, receivedAt: number): void;
  /** A remote audio track started or stopped flowing to the bridge. */
  onRemoteTrack?(change: "started" | "ended", origin: AudioOrigin): void;
  /** The number of participants in the room changed. */
  onParticipantsChanged?(count: number): void;
  /**
   * rtc-node lost the connection and is resuming it by itself ("reconnecting"), or did
   * ("reconnected"); if it gives up, onDisconnected follows.
   */
  onLinkResume?(state: "reconnecting" | "reconnected"): void;
  /** A remote participant joined or left, or muted or unmuted a track. */
  onParticipant?(
    change: "joined" | "left" | "muted" | "unmuted",
    identity: string,
    trackSid: string,
  ): void;
}

/** The format microphone tracks are converted to for the cloud. */
export interface ReceiveFormat {
  readonly sampleRate: number;
  readonly channels: number;
  readonly frameMs: number;
}
