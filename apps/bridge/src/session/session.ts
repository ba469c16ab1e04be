import { createEndiannessNormaliser, type EndiannessNormaliser } from "../audio/endianness.js";
import {
  type AudioOrigin,
  connectRoomLink,
  type Disconnect,
  type DisconnectKind,
} from "../livekit/index.js";
import type { Playback, PlaybackRequest } from "../playback/playback.js";
import { type AttachOptions, CloudStream, type StreamAttachment } from "./cloud-stream.js";
import { createDeviceAudio, type DeviceAudio } from "./device-audio.js";
import { createPlaybacks } from "./playbacks.js";
import type { LossDecision } from "./rejoin-policy.js";
import { createRoomConnection, type RoomConnection } from "./room-connection.js";
import { notInRoom, replacedByNewerStream, sessionClosing, streamEnded } from "./session-errors.js";
import type { ParticipantChange, SessionEvent } from "./session-events.js";
import type { SessionOptions } from "./session-options.js";
import { devicePacketMetadata, type SessionStatus } from "./session-status.js";
import { createTrackControl, type TrackControl } from "./track-control.js";

export type { AttachOptions, ResumeOutcome, StreamAttachment } from "./cloud-stream.js";
export type { TokenSource } from "./rejoin-policy.js";
export type { SessionOptions } from "./session-options.js";
export type { SessionStatus } from "./session-status.js";

/** Device PCM in data packets is 16 kHz mono, as deployed. */
const PACKET_RATE = 16_000;
/** Tracks that PlayAudio publishes itself play at LiveKit's native rate. */
const PLAYBACK_TRACK_RATE = 48_000;
/** TrackStats interval of an AudioSession that does not choose one. */
export const DEFAULT_STATS_INTERVAL_MS = 100;

/**
 * One user's presence in one LiveKit room: the room connection (room-connection.ts), the
 * audio for the cloud (cloud-stream.ts), the published tracks and their marks
 * (track-control.ts), the playbacks (playbacks.ts) and the device's data packets. Every
 * way out goes through {@link Session.close}.
 */
export class Session {
  readonly userId: string;
  readonly roomName: string;
  private readonly room: RoomConnection;
  private readonly cloud: CloudStream;
  private readonly tracks: TrackControl;
  private readonly playbacks: ReturnType<typeof createPlaybacks>;
  private readonly normaliser: EndiannessNormaliser;
  private readonly deviceAudio: DeviceAudio;
  /** Who sent the latest data packet: the identity its audio goes to the cloud under. */
  private dataIdentity = "";
  private unannouncedAccepted = 0;
  private unannouncedDropped = 0;
  private closing: Promise<void> | undefined;
  private closeReason: DisconnectKind | undefined;

  private constructor(private readonly options: SessionOptions<Session>) {
    this.userId = options.userId;
    this.roomName = options.roomName;
    const { logger } = options;
    this.normaliser = createEndiannessNormaliser({
      mode: options.byteOrder,
      onDecision: (order, stats) =>
        logger.info("device byte order decided", {
          userId: this.userId,
          order,
          reason: stats.reason,
          bufferedBytes: stats.bufferedBytes,
        }),
    });
    this.deviceAudio = createDeviceAudio({
      onPcm: (pcm, arrivedAt) => {
        for (const samples of this.normaliser.push(pcm)) {
          this.toCloud(samples, PACKET_RATE, arrivedAt, this.dataIdentity);
        }
      },
      onFormat: (format, reason) =>
        logger.info("device packet format decided", { userId: this.userId, format, reason }),
    });
    this.cloud = new CloudStream({
      ...options,
      onDetached: () => this.tracks.stopControl(),
      onGraceExpired: () =>
        void this.close("left", `no StreamAudio stream for ${options.streamGraceMs} ms`),
    });
    this.tracks = createTrackControl({
      ...options,
      connected: async () => {
        const link = await this.room.whenConnected();
        if (link === undefined || this.closed) throw this.notConnected();
        return link;
      },
      emit: (event) => this.emit(event),
      statsIntervalMs: () => {
        const attached = this.cloud.attached;
        if (attached?.onEvent === undefined) return undefined;
        return attached.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
      },
      onClear: (trackId) =>
        this.playbacks.stopOnTrack(trackId, "cleared", "ClearTrack on its track"),
    });
    this.playbacks = createPlaybacks({
      settings: options.playback,
      logger,
      track: (trackId, channels) => this.tracks.trackFor(trackId, PLAYBACK_TRACK_RATE, channels),
    });
    this.room = createRoomConnection({
      ...options,
      connect: options.connect ?? connectRoomLink,
      events: {
        onData: (payload, origin) => this.onData(payload, origin),
        onRoomAudio: (samples, rate, at, identity) => this.toCloud(samples, rate, at, identity),
        onParticipant: (change, identity, trackSid) =>
          this.onParticipant(change, identity, trackSid),
        // The devices may have rejoined the room meanwhile, numbering from 1 again.
        onLinkResumed: () => this.deviceAudio.restart(),
        onLost: (lost, decision) => this.onLost(lost, decision),
        onRejoined: () =>
          this.publishEarly().catch((error: unknown) =>
            logger.warn("publishing at rejoin failed", {
              userId: this.userId,
              error: String(error),
            }),
          ),
        onGaveUp: (kind, detail) => void this.close(kind, detail),
      },
    });
  }

  /** Joins the room and returns the session; rejects with a readable error if it cannot. */
  static async open(options: SessionOptions<Session>): Promise<Session> {
    const session = new Session(options);
    await session.room.open();
    session.cloud.startGrace();
    try {
      await session.publishEarly();
    } catch (error) {
      await session.close("network", "publishing at join failed");
      throw error;
    }
    return session;
  }

  /** Whether close() has begun. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Why the session closed, once it has. */
  get closedBecause(): DisconnectKind | undefined {
    return this.closeReason;
  }

  /** The bridge's identity in the room. */
  get identity(): string {
    return this.room.link?.identity ?? "";
  }

  /** Participants in the room (the bridge included), or 0 while disconnected. */
  participantCount(): number {
    return this.room.link?.participantCount() ?? 0;
  }

  /** Whether an AudioSession call (which can hear of a drain) is attached. */
  get hasAudioSession(): boolean {
    return this.cloud.attached?.onEvent !== undefined;
  }

  /** Tells the attached AudioSession that the bridge drains, so the cloud moves the user. */
  notifyDraining(deadlineMs: number, reason: string): void {
    this.emit({ type: "draining", deadlineMs, reason });
  }

  /** Whether a StreamAudio stream is attached. */
  get hasStream(): boolean {
    return this.cloud.attached !== undefined;
  }

  /** The user's live state for GetStatus. */
  status(): SessionStatus {
    const link = this.room.link;
    const devicePackets = this.deviceAudio.figures();
    const cloud = this.cloud.figures();
    return {
      devicePackets,
      connected: link !== undefined && !this.closed,
      participantId: link?.participantSid ?? "",
      participantCount: link?.participantCount() ?? 0,
      lastDisconnect: this.room.lastDisconnect,
      metadata: {
        room: this.roomName,
        identity: link?.identity ?? "",
        target_identity: this.options.targetIdentity,
        byte_order_mode: this.options.byteOrder,
        byte_order: this.normaliser.decided ?? "undecided",
        stream_attached: String(this.hasStream),
        chunks_to_cloud: String(cloud.chunksToCloud),
        chunks_from_cloud: String(this.tracks.chunksFromCloud),
        cloud_dropped_ms: String(cloud.droppedMs),
        cloud_delay_dropped_ms: String(cloud.delayDroppedMs),
        cloud_queued_ms: String(cloud.queuedMs),
        ...devicePacketMetadata(devicePackets),
        unannounced_packets_accepted: String(this.unannouncedAccepted),
        unannounced_packets_dropped: String(this.unannouncedDropped),
        rejoins: String(this.room.rejoins),
        link_resumes: String(this.room.linkResumes),
        last_disconnect_sdk_reason: this.room.lastDisconnect?.disconnect.sdkReason ?? "",
        ...this.room.mediaMetadata(),
        ...this.tracks.underrunMetadata(),
      },
    };
  }

  /**
   * Attaches a StreamAudio stream; a stream already attached ends with Aborted. Audio
   * that came while no stream was attached (within the queue's bound) is delivered first.
   */
  attachStream(options: AttachOptions = {}): StreamAttachment {
    if (this.closed) throw sessionClosing(this.userId);
    const attachment = this.cloud.attach(options, replacedByNewerStream(this.userId));
    if (options.onEvent !== undefined) this.tracks.startControl();
    return attachment;
  }

  /** The format microphone tracks are converted to for the cloud. */
  get receiveFormat(): { readonly sampleRate: number; readonly frameMs: number } {
    return this.room.receive;
  }

  /** Sets the receive format of microphone tracks for the rest of the session. */
  setReceiveFormat(format: { sampleRate: number; frameMs: number }): void {
    this.room.setReceiveFormat(format);
  }

  /** Changes the TrackStats interval of the attached AudioSession (0 or less: none). */
  setStatsInterval(intervalMs: number): void {
    this.cloud.setStatsInterval(intervalMs);
  }

  /**
   * Places a mark after everything written so far on `trackId`; it is reported (as an
   * AudioSession event) once that audio has played out, at once on a track with none.
   */
  mark(trackId: number, name: string): void {
    this.tracks.mark(trackId, name);
  }

  /**
   * Barge-in: drops what `trackId` has not played yet (the room is silent within one
   * 10 ms frame), stops PlayAudio playbacks on it, and says how much of the utterance
   * was heard and which marks were dropped.
   */
  clear(trackId: number): Extract<SessionEvent, { type: "cleared" }> {
    return this.tracks.clear(trackId);
  }

  /**
   * Plays cloud audio on the track for `trackId`, publishing it on first use. Waits while
   * the session rejoins its room, and while the track's buffer is full.
   */
  writeAudio(trackId: number, samples: Int16Array, sampleRate: number, channels: number) {
    return this.tracks.write(trackId, samples, sampleRate, channels);
  }

  /**
   * Starts a PlayAudio playback on `request.trackId`. `stopOther` stops every other
   * playback of the user first; otherwise only the one on the same track (and one with
   * the same request id) is replaced. Each stopped playback ends with STOPPED.
   */
  play(request: PlaybackRequest, stopOther: boolean): Playback {
    if (this.closed) throw sessionClosing(this.userId);
    return this.playbacks.play(request, stopOther);
  }

  /**
   * Stops the playback `requestId`, or every playback of the user when it is empty;
   * returns the request ids stopped (none for an unknown id).
   */
  stopPlayback(requestId: string, reason: string, detail = ""): string[] {
    return this.playbacks.stop(requestId, reason, detail);
  }

  /** Open handles of every kind; 0 once closed (the leak check tests read). */
  openResources(): number {
    return (
      this.room.openHandles() +
      this.tracks.openHandles() +
      this.playbacks.size +
      (this.deviceAudio.hasTimer ? 1 : 0) +
      this.cloud.openHandles()
    );
  }

  /**
   * The one way out: ends the stream (OK for "left", else Unavailable or Aborted), leaves
   * the room, releases tracks, timers and queues. Idempotent.
   */
  close(kind: DisconnectKind, detail = ""): Promise<void> {
    this.closing ??= (async () => {
      this.closeReason = kind;
      this.room.stop();
      this.tracks.stopControl();
      this.deviceAudio.close();
      this.cloud.close(
        kind === "left" ? undefined : streamEnded(this.userId, this.roomName, kind, detail),
      );
      await this.playbacks.endAll(`session_${kind}`, detail);
      this.cloud.closeQueue();
      this.tracks.reset();
      await this.room.close(kind);
      this.options.logger.info("session closed", { userId: this.userId, reason: kind, detail });
      this.options.onClosed(this);
    })();
    return this.closing;
  }

  /** Publishes the PUBLISH_AT_JOIN tracks (mono, at LiveKit's rate). */
  private async publishEarly(): Promise<void> {
    await Promise.all(
      this.options.publishAtJoin.map((trackId) =>
        this.tracks.trackFor(trackId, PLAYBACK_TRACK_RATE, 1),
      ),
    );
  }

  private emit(event: SessionEvent): void {
    this.cloud.attached?.onEvent?.(event);
  }

  private onData(payload: Uint8Array, origin: AudioOrigin) {
    if (origin.unannounced === true) {
      if (origin.accepted !== true) {
        this.unannouncedDropped++;
        return;
      }
      this.unannouncedAccepted++;
    }
    this.dataIdentity = origin.identity;
    this.deviceAudio.push(payload);
  }

  private toCloud(samples: Int16Array, sampleRate: number, timestampMs: number, identity: string) {
    if (samples.length === 0 || this.closed) return;
    this.cloud.push(samples, sampleRate, timestampMs, identity);
  }

  private onParticipant(change: ParticipantChange, identity: string, trackSid: string) {
    // A device that rejoins numbers its packets from the start again. (Not on "joined":
    // LiveKit may announce a device seconds after its first packets, mid-timeline.)
    if (change === "left" && identity === this.dataIdentity) {
      this.deviceAudio.restart();
    }
    this.emit({ type: "participant", kind: change, identity, trackSid });
  }

  /** The room is gone: so are its tracks, marks and playbacks, and the stream ends. */
  private onLost(lost: Disconnect, decision: LossDecision) {
    // Whatever comes on the next link is a new timeline: the device rejoins too, maybe
    // numbering from 1 again, and the room's lost time is no packet loss to fill.
    this.deviceAudio.restart();
    this.tracks.reset();
    void this.playbacks.endAll("room_lost", lost.kind);
    const { kind } = decision.disconnect;
    this.cloud.end(streamEnded(this.userId, this.roomName, kind, decision.detail));
  }

  private notConnected() {
    const reason = this.room.lastDisconnect?.disconnect.kind ?? this.closeReason ?? "closed";
    return notInRoom(this.userId, this.roomName, reason);
  }
}
