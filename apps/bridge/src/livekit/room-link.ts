import { Room } from "@livekit/rtc-node";
import { createLinkStatsReader, type LinkStats, NO_LINK_STATS } from "./link-stats.js";
import {
  type OutboundTrack,
  type OutboundTrackOptions,
  publishOutboundTrack,
} from "./outbound-track.js";
import {
  describeJoinFailure,
  disposeNativeRoom,
  leaveWhenConnected,
  RTC_CONFIG,
  withTimeout,
} from "./room-connect.js";
import { createRoomEvents } from "./room-events.js";
import { createInboundReaders } from "./room-inbound.js";
import type { ReceiveFormat, RoomLinkHandlers } from "./room-link-types.js";

export { abandonedConnects } from "./room-connect.js";
export type { AudioOrigin, ReceiveFormat, RoomLinkHandlers } from "./room-link-types.js";

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
  const inbound = createInboundReaders(handlers, options.receive);
  const outbound = new Set<OutboundTrack>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const count = () => room.remoteParticipants.size + 1;
  const events = createRoomEvents({
    room,
    handlers,
    targetIdentity,
    tokenExpiresAt: options.tokenExpiresAt,
    inbound,
    isClosed: () => closed,
    release: () => release(),
    count,
  });
  events.attach();

  /** Stops every stream and track, removes listeners and leaves; the one close path. */
  const release = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      events.detach();
      inbound.stopAll();
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
      events.subscribe(publication, participant);
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
      inbound.setFormat(format);
      if (closed) return;
      inbound.restartAll();
    },
    async stats() {
      if (closed) return NO_LINK_STATS;
      return readStats().catch(() => NO_LINK_STATS);
    },
    openHandles() {
      return events.listenerCount() + inbound.size() + outbound.size + (closed ? 0 : 1);
    },
    close: release,
  };
}
