import {
  type DisconnectReason,
  type Participant,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
  RoomEvent,
  TrackKind,
} from "@livekit/rtc-node";
import { classifyDisconnect } from "./disconnect.js";
import type { InboundReaders } from "./room-inbound.js";
import type { RoomLinkHandlers } from "./room-link-types.js";

/** Options of {@link createRoomEvents}. */
export interface RoomEventsOptions {
  readonly room: Room;
  readonly handlers: RoomLinkHandlers;
  /** Only this participant's audio is received; empty means every remote participant. */
  readonly targetIdentity: string;
  /** When the token expires (ms since epoch), to classify failed resumes. */
  readonly tokenExpiresAt: number | undefined;
  readonly inbound: InboundReaders;
  /** Whether the link is closed: events after that are ignored. */
  readonly isClosed: () => boolean;
  /** The link's one close path, started when the room is lost. */
  readonly release: () => Promise<void>;
  /** Participants in the room, the bridge included. */
  readonly count: () => number;
}

/** The rtc-node listeners of one room link, added and removed here. */
export interface RoomEvents {
  /** Subscribes to `publication` if it is audio of a wanted participant. */
  subscribe(publication: RemoteTrackPublication, participant: RemoteParticipant): void;
  /** Adds every listener to the room. */
  attach(): void;
  /** Removes every listener attach() added. */
  detach(): void;
  /** Listeners of these events the room holds. */
  listenerCount(): number;
}

/** Creates the event wiring of one room link: subscriptions, data, participants, loss. */
export function createRoomEvents(options: RoomEventsOptions): RoomEvents {
  const { room, handlers, targetIdentity, inbound, isClosed, count } = options;
  const wanted = (identity: string) => targetIdentity === "" || identity === targetIdentity;

  const subscribe = (publication: RemoteTrackPublication, participant: RemoteParticipant) => {
    if (publication.kind === TrackKind.KIND_AUDIO && wanted(participant.identity)) {
      publication.setSubscribed(true);
    }
  };

  const listeners = {
    [RoomEvent.TrackPublished]: subscribe,
    [RoomEvent.TrackSubscribed]: (
      track: RemoteTrack,
      publication: RemoteTrackPublication,
      participant: RemoteParticipant,
    ) => {
      const trackSid = publication.sid;
      if (isClosed() || trackSid === undefined || track.kind !== TrackKind.KIND_AUDIO) return;
      if (!wanted(participant.identity)) return;
      inbound.stop(trackSid);
      inbound.start(trackSid, track, participant.identity);
      handlers.onRemoteTrack?.("started", { identity: participant.identity, trackSid });
    },
    [RoomEvent.TrackUnsubscribed]: (_t: unknown, publication: RemoteTrackPublication) => {
      if (publication.sid !== undefined) inbound.stop(publication.sid);
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
      inbound.stopIdentity(participant.identity);
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
      if (!isClosed()) handlers.onLinkResume?.("reconnecting");
    },
    [RoomEvent.Reconnected]: () => {
      if (!isClosed()) handlers.onLinkResume?.("reconnected");
    },
    [RoomEvent.Disconnected]: (reason: DisconnectReason) => {
      if (isClosed()) return;
      const expired = options.tokenExpiresAt !== undefined && Date.now() >= options.tokenExpiresAt;
      const disconnect = classifyDisconnect(reason, expired);
      void options.release();
      handlers.onDisconnected(disconnect);
    },
  } as const;

  return {
    subscribe,
    attach() {
      for (const [event, listener] of Object.entries(listeners)) {
        room.on(event as RoomEvent, listener as (...args: unknown[]) => void);
      }
    },
    detach() {
      for (const [event, listener] of Object.entries(listeners)) {
        room.off(event as RoomEvent, listener as (...args: unknown[]) => void);
      }
    },
    listenerCount() {
      return Object.keys(listeners).reduce(
        (sum, event) => sum + room.listenerCount(event as RoomEvent),
        0,
      );
    },
  };
}
