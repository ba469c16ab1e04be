import {
  ContinualGatheringPolicy,
  type DisconnectReason,
  IceTransportType,
  type Participant,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  Room,
  RoomEvent,
  TrackKind,
} from "@livekit/rtc-node";
import { classifyDisconnect } from "./disconnect.js";
import type { Disconnect } from "./disconnect-kind.js";
import { type InboundAudio, readRemoteAudio } from "./inbound-audio.js";
import { createLinkStatsReader, type LinkStats, NO_LINK_STATS } from "./link-stats.js";
import {
  type OutboundTrack,
  type OutboundTrackOptions,
  publishOutboundTrack,
} from "./outbound-track.js";

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

/** Options of {@link connectRoomLink}. */
export interface RoomLinkOptions {
  /** LiveKit WebSocket URL. */
  readonly url: string;
  /** Access token for the room (its identity becomes the bridge's identity). */
  readonly token: string;
  /** When the token expires (ms since epoch), to classify failed resumes; undefined if unknown. */
  readonly tokenExpiresAt: number | undefined;
  /** Give up connecting after this long. */
  readonly connectTimeoutMs: number;
  /**
   * Called once rtc-node's connect has settled and, for a join that gave up before it
   * did, the room it joined late has been left again; or, should it never settle, one
   * more `connectTimeoutMs` after giving up. A join slot is held until then.
   */
  readonly onConnectSettled?: () => void;
  /** Only this participant's audio is received; empty means every remote participant. */
  readonly targetIdentity: string;
  /** Format microphone tracks are converted to. */
  readonly receive: ReceiveFormat;
  readonly handlers: RoomLinkHandlers;
}

/** The bridge's participant in one LiveKit room; the only owner of an rtc-node Room. */
export interface RoomLink {
  /** The identity the bridge joined with. */
  readonly identity: string;
  /** The bridge participant's SID. */
  readonly participantSid: string;
  /** Participants in the room, the bridge included. */
  participantCount(): number;
  /** Publishes a new audio track (cloud to room). Closed with the link. */
  publishTrack(options: OutboundTrackOptions): Promise<OutboundTrack>;
  /** Converts microphone tracks to `format` from now on (their readers restart). */
  setReceiveFormat(format: ReceiveFormat): void;
  /** WebRTC's media counters since the link joined; zeros once closed. Never rejects. */
  stats(): Promise<LinkStats>;
  /** rtc-node listeners, streams and tracks still held; 0 after close(). */
  openHandles(): number;
  /** Leaves the room and releases everything. Idempotent; never rejects. */
  close(): Promise<void>;
}

/** Thrown by {@link connectRoomLink} when the room cannot be joined. */
export class RoomJoinError extends Error {
  override readonly name = "RoomJoinError";
}

/**
 * Joins a LiveKit room as the bridge's own participant. Subscribes only to audio tracks
 * of the target participant (or of everyone), converts them to the receive format, and
 * forwards data packets. Rejects with a {@link RoomJoinError} within `connectTimeoutMs`.
 */
export async function connectRoomLink(options: RoomLinkOptions): Promise<RoomLink> {
  const room = new Room();
  const { handlers, targetIdentity } = options;
  const inbound = new Map<string, InboundAudio>();
  // The subscribed tracks behind `inbound`, to restart their readers at a new format.
  const subscribed = new Map<string, { track: RemoteTrack; identity: string }>();
  let receive = options.receive;
  const outbound = new Set<OutboundTrack>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const wanted = (identity: string) => targetIdentity === "" || identity === targetIdentity;

  const subscribe = (publication: RemoteTrackPublication, participant: RemoteParticipant) => {
    if (publication.kind === TrackKind.KIND_AUDIO && wanted(participant.identity)) {
      publication.setSubscribed(true);
    }
  };
  const startInbound = (trackSid: string, track: RemoteTrack, identity: string) => {
    const origin = { identity, trackSid };
    subscribed.set(trackSid, { track, identity });
    inbound.set(
      trackSid,
      readRemoteAudio({
        track,
        identity,
        ...receive,
        onFrame: (samples, receivedAt) => handlers.onAudioFrame(samples, origin, receivedAt),
        onEnd: () => stopInbound(trackSid),
      }),
    );
  };
  const stopInbound = (trackSid: string) => {
    const audio = inbound.get(trackSid);
    subscribed.delete(trackSid);
    if (audio === undefined) return;
    inbound.delete(trackSid);
    void audio.close();
    handlers.onRemoteTrack?.("ended", { identity: audio.identity, trackSid });
  };

  const listeners = {
    [RoomEvent.TrackPublished]: subscribe,
    [RoomEvent.TrackSubscribed]: (
      track: Parameters<typeof readRemoteAudio>[0]["track"],
      publication: RemoteTrackPublication,
      participant: RemoteParticipant,
    ) => {
      const trackSid = publication.sid;
      if (closed || trackSid === undefined || track.kind !== TrackKind.KIND_AUDIO) return;
      if (!wanted(participant.identity)) return;
      stopInbound(trackSid);
      startInbound(trackSid, track, participant.identity);
      handlers.onRemoteTrack?.("started", { identity: participant.identity, trackSid });
    },
    [RoomEvent.TrackUnsubscribed]: (_t: unknown, publication: RemoteTrackPublication) => {
      if (publication.sid !== undefined) stopInbound(publication.sid);
    },
    [RoomEvent.DataReceived]: (payload: Uint8Array, participant?: RemoteParticipant) => {
      if (participant !== undefined) {
        if (wanted(participant.identity))
          handlers.onData(payload, { identity: participant.identity });
        return;
      }
      // livekit-server announces a participant that publishes no track up to 3 s after
      // it joined (it batches those updates), and until then rtc-node names no sender,
      // not even in its FFI event. Glasses send PCM packets right after joining, so such
      // packets are taken when they can only be the target's: when there is no target,
      // or while the target itself has not been announced.
      const known = targetIdentity !== "" && room.remoteParticipants.has(targetIdentity);
      handlers.onData(payload, { identity: targetIdentity, unannounced: true, accepted: !known });
    },
    [RoomEvent.ParticipantConnected]: (participant: RemoteParticipant) => {
      handlers.onParticipantsChanged?.(count());
      handlers.onParticipant?.("joined", participant.identity, "");
    },
    [RoomEvent.ParticipantDisconnected]: (participant: RemoteParticipant) => {
      for (const [sid, audio] of inbound)
        if (audio.identity === participant.identity) stopInbound(sid);
      handlers.onParticipantsChanged?.(count());
      handlers.onParticipant?.("left", participant.identity, "");
    },
    [RoomEvent.TrackMuted]: (publication: { sid?: string }, participant: Participant) => {
      if (participant !== room.localParticipant) {
        handlers.onParticipant?.("muted", participant.identity, publication.sid ?? "");
      }
    },
    [RoomEvent.TrackUnmuted]: (publication: { sid?: string }, participant: Participant) => {
      if (participant !== room.localParticipant) {
        handlers.onParticipant?.("unmuted", participant.identity, publication.sid ?? "");
      }
    },
    [RoomEvent.Reconnecting]: () => {
      if (!closed) handlers.onLinkResume?.("reconnecting");
    },
    [RoomEvent.Reconnected]: () => {
      if (!closed) handlers.onLinkResume?.("reconnected");
    },
    [RoomEvent.Disconnected]: (reason: DisconnectReason) => {
      if (closed) return;
      const expired = options.tokenExpiresAt !== undefined && Date.now() >= options.tokenExpiresAt;
      const disconnect = classifyDisconnect(reason, expired);
      void release();
      handlers.onDisconnected(disconnect);
    },
  } as const;

  const count = () => room.remoteParticipants.size + 1;
  for (const [event, listener] of Object.entries(listeners)) {
    room.on(event as RoomEvent, listener as (...args: unknown[]) => void);
  }
  const removeListeners = () => {
    for (const [event, listener] of Object.entries(listeners)) {
      room.off(event as RoomEvent, listener as (...args: unknown[]) => void);
    }
  };

  /** Stops every stream and track, removes listeners and leaves; the one close path. */
  const release = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      removeListeners();
      for (const sid of [...inbound.keys()]) stopInbound(sid);
      await Promise.allSettled([...outbound].map((track) => track.close()));
      outbound.clear();
      await room.disconnect().catch(() => {});
      disposeNativeRoom(room);
    })();
    return closing;
  };

  let settled = false;
  const connectSettled = () => {
    if (settled) return;
    settled = true;
    options.onConnectSettled?.();
  };
  const connecting = room.connect(options.url, options.token, {
    autoSubscribe: false,
    dynacast: false,
    rtcConfig: RTC_CONFIG,
  });
  try {
    await withTimeout(connecting, options.connectTimeoutMs);
  } catch (error) {
    await release();
    leaveWhenConnected(room, connecting, options.connectTimeoutMs, connectSettled);
    throw new RoomJoinError(describeJoinFailure(error, options));
  }
  connectSettled();
  const readStats = createLinkStatsReader(room);
  const local = room.localParticipant;
  if (local === undefined) {
    await release();
    throw new RoomJoinError("connected without a local participant");
  }
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.trackPublications.values()) {
      subscribe(publication, participant);
    }
  }

  return {
    identity: local.identity,
    participantSid: local.sid ?? "",
    participantCount: count,
    async publishTrack(trackOptions) {
      if (closed) throw new Error("the room link is closed");
      const track = await publishOutboundTrack(local, trackOptions);
      outbound.add(track);
      if (closed) await track.close();
      return track;
    },
    setReceiveFormat(format) {
      receive = format;
      if (closed) return;
      for (const [sid, { track, identity }] of [...subscribed]) {
        const old = inbound.get(sid);
        inbound.delete(sid);
        void old?.close();
        startInbound(sid, track, identity);
      }
    },
    async stats() {
      if (closed) return NO_LINK_STATS;
      return readStats().catch(() => NO_LINK_STATS);
    },
    openHandles() {
      const listenerCount = Object.keys(listeners).reduce(
        (sum, event) => sum + room.listenerCount(event as RoomEvent),
        0,
      );
      return listenerCount + inbound.size + outbound.size + (closed ? 0 : 1);
    },
    close: release,
  };
}

/**
 * ICE gathers once. With rtc-node's default (gather continually) each room opens ~170
 * sockets while its ICE settles (UDP, TCP listening and TCP connecting candidates on every
 * address of the host), and once rooms had settled and were left beside a room still open,
 * ~196 descriptors stayed (10 rooms left or 19 alike; CI: 197) until the last open room
 * closed, not on GC: 42 before, 238 still 30 s later. Gathering once, a joined room peaks
 * at ~21 descriptors and left rooms release all of theirs by the time LeaveRoom answers.
 * The bridge runs on a server whose addresses do not change under a room, and an ICE
 * restart (a resume) gathers afresh either way. No ICE servers here means the ones
 * LiveKit sends on join, as in rtc-node's own default.
 */
const RTC_CONFIG = {
  iceTransportType: IceTransportType.TRANSPORT_ALL,
  continualGatheringPolicy: ContinualGatheringPolicy.GATHER_ONCE,
  iceServers: [],
};

/** Shortest time an abandoned connect keeps its join slot when it never settles. */
const ABANDONED_SLOT_MIN_MS = 10_000;
let abandoned = 0;

/** Joins that gave up while their connect is still pending or their late room not yet left. */
export function abandonedConnects(): number {
  return abandoned;
}

/**
 * rtc-node's disconnect() does nothing while connect() is pending, so a join that gave
 * up would otherwise complete later and stay in the room as a ghost holding the
 * identity and its sockets: leave as soon as the pending connect completes.
 */
function leaveWhenConnected(
  room: Room,
  connecting: Promise<void>,
  connectTimeoutMs: number,
  settled: () => void,
): void {
  abandoned++;
  const timer = setTimeout(settled, Math.max(connectTimeoutMs, ABANDONED_SLOT_MIN_MS));
  timer.unref();
  connecting
    .then(
      () => room.disconnect(),
      () => {},
    )
    .catch(() => {})
    .finally(() => {
      disposeNativeRoom(room);
      abandoned--;
      clearTimeout(timer);
      room.removeAllListeners();
      settled();
    });
}

/**
 * rtc-node's disconnect() leaves the native room, with its signalling and WebRTC sockets,
 * to the garbage collector (its handle is only finalised): a bridge that joined and left
 * 19 rooms still held 19 TCP and ~30 UDP sockets 30 s later. Release it at once.
 */
function disposeNativeRoom(room: Room): void {
  const native = room as unknown as { ffiHandle?: { dispose(): void } | undefined };
  try {
    native.ffiHandle?.dispose();
  } catch {
    // Already released.
  }
  native.ffiHandle = undefined;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeJoinFailure(error: unknown, options: RoomLinkOptions): string {
  const message = error instanceof Error ? error.message : String(error);
  const expired = options.tokenExpiresAt !== undefined && Date.now() >= options.tokenExpiresAt;
  const hint = expired ? " (the token has expired)" : "";
  return `could not join the room at ${options.url}: ${message}${hint}`;
}
