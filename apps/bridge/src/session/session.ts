import { Code, ConnectError } from "@connectrpc/connect";
import { createDropOldestQueue, type DropOldestQueue } from "@mentra/pcm";
import { createEndiannessNormaliser, type EndiannessNormaliser } from "../audio/endianness.js";
import { int16ToLittleEndianBytes } from "../audio/pcm.js";
import type { ByteOrderSetting } from "../config.js";
import {
  type AudioOrigin,
  connectRoomLink,
  type Disconnect,
  type DisconnectKind,
  isRecoverable,
  type LinkStats,
  NO_LINK_STATS,
  type OutboundTrack,
  type RoomLink,
  tokenExpiry,
} from "../livekit/index.js";
import type { Logger } from "../logger.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import {
  type Playback,
  type PlaybackRequest,
  type PlaybackSettings,
  startPlayback,
} from "../playback/playback.js";
import type { JoinGate } from "../security/join-limits.js";
import { type CloudChunk, chunkMs } from "./cloud-chunk.js";
import { createDeviceAudio, type DeviceAudio, type DevicePacketFigures } from "./device-audio.js";
import { ReplayBuffer } from "./replay-buffer.js";
import { planResume } from "./resume-plan.js";
import type { ParticipantChange, SessionEvent } from "./session-events.js";
import { TrackMarks, type TrackPosition } from "./track-marks.js";
import { trackName } from "./track-names.js";

/** Device PCM in data packets is 16 kHz mono, as deployed. */
const PACKET_RATE = 16_000;
/** Tracks that PlayAudio publishes itself play at LiveKit's native rate. */
const PLAYBACK_TRACK_RATE = 48_000;
/** How often marks are checked against the played-out position while an AudioSession is attached. */
const CONTROL_TICK_MS = 10;
/** TrackStats interval of an AudioSession that does not choose one. */
export const DEFAULT_STATS_INTERVAL_MS = 100;
/** Waits between rejoin attempts; their count bounds the attempts. */
const REJOIN_BACKOFF_MS = [0, 250, 500, 1_000, 2_000, 4_000] as const;

/** Where a session's join tokens come from. */
export type TokenSource =
  /** The cloud's token; it cannot be renewed by the bridge. */
  | { readonly kind: "given"; readonly token: string }
  /** Minted by the bridge, fresh for every (re)join. */
  | { readonly kind: "minted"; readonly mint: () => Promise<string> };

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
}

/** A user's state as GetStatus reports it. */
export interface SessionStatus {
  readonly connected: boolean;
  readonly participantId: string;
  readonly participantCount: number;
  readonly lastDisconnectAt: number;
  readonly lastDisconnectReason: string;
  readonly metadata: Record<string, string>;
  /** What became of the device's data packets. */
  readonly devicePackets: DevicePacketFigures;
}

/** Options of {@link Session.attachStream}. */
export interface AttachOptions {
  /** Events for an AudioSession call; StreamAudio has none. */
  readonly onEvent?: (event: SessionEvent) => void;
  /** TrackStats interval for `onEvent`; 0 or less: none. */
  readonly statsIntervalMs?: number;
  /** Resume after this sequence: replay what the cloud missed, skip what it has. */
  readonly resumeAfter?: number;
}

/** What a resume found. */
export interface ResumeOutcome {
  /** The first sequence the stream sends. */
  readonly nextSequence: number;
  /** Chunks after the resume point no longer held (lost). */
  readonly missed: number;
}

/** How a StreamAudio stream attached to a session ends from the session's side. */
export interface StreamAttachment {
  /** Set when the stream resumed (AttachOptions.resumeAfter). */
  readonly resumed: ResumeOutcome | undefined;
  /** Aborted when the session ends the stream; the reason is a ConnectError or undefined (OK). */
  readonly signal: AbortSignal;
  /** Next room audio for the cloud; rejects with the end reason once the stream is ended. */
  next(): Promise<IteratorResult<CloudChunk, undefined>>;
  /** The stream is gone (client left or failed): start the grace period. Idempotent. */
  detach(): void;
}

/**
 * One user's presence in one LiveKit room: the room link, the published tracks, the
 * subscriptions, the byte-order normaliser and the queue of audio for the cloud. Every
 * way out goes through {@link Session.close}.
 */
export class Session {
  readonly userId: string;
  readonly roomName: string;
  private link: RoomLink | undefined;
  private readonly tracks = new Map<number, Promise<OutboundTrack>>();
  /** Tracks once published, for marks, clears and stats. */
  private readonly published = new Map<number, OutboundTrack>();
  private readonly marks = new Map<number, TrackMarks>();
  private readonly replay: ReplayBuffer<CloudChunk>;
  private nextSequence = 1;
  // The highest sequence whose time in the bridge was reported (see attachStream).
  private lastTimedSequence = 0;
  private receive: { sampleRate: number; frameMs: number };
  private controlTimer: NodeJS.Timeout | undefined;
  private readonly playbacks = new Map<string, Playback>();
  private readonly cloudQueue: DropOldestQueue<CloudChunk>;
  private readonly normaliser: EndiannessNormaliser;
  private readonly deviceAudio: DeviceAudio;
  /** Who sent the latest data packet: the identity its audio goes to the cloud under. */
  private dataIdentity = "";
  private attachment:
    | { controller: AbortController; options: AttachOptions; statsDueAt: number }
    | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  /** The current link's last statistics, and the sum of earlier links' last ones. */
  private linkStats: LinkStats = NO_LINK_STATS;
  private pastLinkStats: LinkStats = NO_LINK_STATS;
  private reconnected: Promise<void> | undefined;
  private lastDisconnect: { at: number; disconnect: Disconnect } | undefined;
  private closing: Promise<void> | undefined;
  private closeReason: DisconnectKind | undefined;
  private readonly counters = {
    chunksToCloud: 0,
    chunksFromCloud: 0,
    unannouncedAccepted: 0,
    unannouncedDropped: 0,
    rejoins: 0,
    /** Connection losses rtc-node resumed by itself, without a rejoin. */
    linkResumes: 0,
    streamsAttached: 0,
  };

  private constructor(private readonly options: SessionOptions) {
    this.userId = options.userId;
    this.roomName = options.roomName;
    this.cloudQueue = createDropOldestQueue<CloudChunk>({
      capacity: options.cloudQueueMs,
      weigh: chunkMs,
    });
    this.replay = new ReplayBuffer<CloudChunk>(options.replayMs, chunkMs);
    this.receive = { ...options.receive };
    this.normaliser = createEndiannessNormaliser({
      mode: options.byteOrder,
      onDecision: (order, stats) =>
        options.logger.info("device byte order decided", {
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
        options.logger.info("device packet format decided", {
          userId: this.userId,
          format,
          reason,
        }),
    });
  }

  /** Joins the room and returns the session; rejects with a readable error if it cannot. */
  static async open(options: SessionOptions): Promise<Session> {
    const session = new Session(options);
    session.link = await session.connect();
    session.startGrace();
    session.startStats();
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

  /** The bridge's identity in the room. */
  get identity(): string {
    return this.link?.identity ?? "";
  }

  /** Participants in the room (the bridge included), or 0 while disconnected. */
  participantCount(): number {
    return this.link?.participantCount() ?? 0;
  }

  /** Whether an AudioSession call (which can hear of a drain) is attached. */
  get hasAudioSession(): boolean {
    return this.attachment?.options.onEvent !== undefined;
  }

  /** Tells the attached AudioSession that the bridge drains, so the cloud moves the user. */
  notifyDraining(deadlineMs: number, reason: string): void {
    this.emit({ type: "draining", deadlineMs, reason });
  }

  /** Whether a StreamAudio stream is attached. */
  get hasStream(): boolean {
    return this.attachment !== undefined;
  }

  /** The user's live state for GetStatus. */
  status(): SessionStatus {
    const link = this.link;
    const devicePackets = this.deviceAudio.figures();
    return {
      devicePackets,
      connected: link !== undefined && !this.closed,
      participantId: link?.participantSid ?? "",
      participantCount: link?.participantCount() ?? 0,
      lastDisconnectAt: this.lastDisconnect?.at ?? 0,
      lastDisconnectReason: this.lastDisconnect?.disconnect.kind ?? "",
      metadata: {
        room: this.roomName,
        identity: link?.identity ?? "",
        target_identity: this.options.targetIdentity,
        byte_order_mode: this.options.byteOrder,
        byte_order: this.normaliser.decided ?? "undecided",
        stream_attached: String(this.attachment !== undefined),
        chunks_to_cloud: String(this.counters.chunksToCloud),
        chunks_from_cloud: String(this.counters.chunksFromCloud),
        cloud_dropped_ms: String(Math.round(this.cloudQueue.droppedWeight)),
        cloud_queued_ms: String(Math.round(this.cloudQueue.weight)),
        ...devicePacketMetadata(devicePackets),
        unannounced_packets_accepted: String(this.counters.unannouncedAccepted),
        unannounced_packets_dropped: String(this.counters.unannouncedDropped),
        rejoins: String(this.counters.rejoins),
        link_resumes: String(this.counters.linkResumes),
        last_disconnect_sdk_reason: this.lastDisconnect?.disconnect.sdkReason ?? "",
        ...this.mediaFigures(),
      },
    };
  }

  /**
   * Attaches a StreamAudio stream; a stream already attached ends with Aborted. Audio
   * that came while no stream was attached (within the queue's bound) is delivered first.
   */
  attachStream(options: AttachOptions = {}): StreamAttachment {
    if (this.closed) {
      throw new ConnectError(
        `the session of user ${this.userId} is closing`,
        Code.FailedPrecondition,
      );
    }
    this.endStream(
      new ConnectError(
        `replaced by a newer StreamAudio stream for user ${this.userId}`,
        Code.Aborted,
      ),
    );
    this.stopGrace();
    const controller = new AbortController();
    const attachment = { controller, options, statsDueAt: 0 };
    this.attachment = attachment;
    this.counters.streamsAttached++;
    const resumed =
      options.resumeAfter === undefined ? undefined : this.resumeAfter(options.resumeAfter);
    if (options.onEvent !== undefined) this.startControl();
    return {
      resumed,
      signal: controller.signal,
      next: async () => {
        const result = await this.cloudQueue.next(controller.signal);
        // Timed once per chunk: a chunk replayed after a resume was timed when first sent.
        if (result.done !== true && result.value.sequence > this.lastTimedSequence) {
          this.lastTimedSequence = result.value.sequence;
          this.options.audioLatency.observe(
            "to_cloud",
            performance.now() - result.value.receivedAt,
          );
        }
        return result;
      },
      detach: () => {
        if (this.attachment !== attachment) return;
        this.attachment = undefined;
        this.stopControl();
        if (!controller.signal.aborted) controller.abort();
        this.startGrace();
      },
    };
  }

  /**
   * Puts back into the cloud queue, in order and once each, every chunk after `sequence`
   * that the bridge still holds: sent on the broken stream (the replay buffer) or not sent
   * yet (the queue), as much as the queue takes; what it misses is counted (planResume).
   */
  private resumeAfter(sequence: number): ResumeOutcome {
    const last = this.nextSequence - 1;
    if (sequence > last) {
      // A sequence this session never sent: the cloud's is from an earlier session of
      // the user. Nothing to skip or replay; the queue goes out as it is.
      this.options.logger.info("stream resume from another session ignored", {
        userId: this.userId,
        afterSequence: sequence,
        lastSequence: last,
      });
      return { nextSequence: last + 1 - this.cloudQueue.size, missed: 0 };
    }
    const plan = planResume(
      sequence,
      last,
      this.replay.after(sequence, last).items,
      this.cloudQueue.drain(),
      this.options.cloudQueueMs,
      chunkMs,
    );
    for (const chunk of plan.chunks) this.cloudQueue.push(chunk);
    const { nextSequence, missed } = plan;
    this.options.logger.info("stream resumed", {
      userId: this.userId,
      afterSequence: sequence,
      replayed: plan.chunks.length,
      missed,
    });
    return { nextSequence, missed };
  }

  /** The format microphone tracks are converted to for the cloud. */
  get receiveFormat(): { readonly sampleRate: number; readonly frameMs: number } {
    return { ...this.receive };
  }

  /** Publishes the PUBLISH_AT_JOIN tracks (mono, at LiveKit's rate). */
  private async publishEarly(): Promise<void> {
    await Promise.all(
      this.options.publishAtJoin.map((trackId) => this.trackFor(trackId, PLAYBACK_TRACK_RATE, 1)),
    );
  }

  /** Sets the receive format of microphone tracks for the rest of the session. */
  setReceiveFormat(format: { sampleRate: number; frameMs: number }): void {
    this.receive = { ...format };
    this.link?.setReceiveFormat({ ...format, channels: 1 });
  }

  /** Changes the TrackStats interval of the attached AudioSession (0 or less: none). */
  setStatsInterval(intervalMs: number): void {
    const attachment = this.attachment;
    if (attachment === undefined) return;
    attachment.options = { ...attachment.options, statsIntervalMs: intervalMs };
  }

  /**
   * Places a mark after everything written so far on `trackId`; it is reported (as an
   * AudioSession event) once that audio has played out, at once on a track with none.
   */
  mark(trackId: number, name: string): void {
    const marks = this.marksFor(trackId);
    const track = this.published.get(trackId);
    marks.add(name, track === undefined ? { writtenMs: 0, playedMs: 0 } : position(track));
    this.checkMarks();
  }

  /**
   * Barge-in: drops what `trackId` has not played yet (the room is silent within one
   * 10 ms frame), stops PlayAudio playbacks on it, and says how much of the utterance
   * was heard and which marks were dropped.
   */
  clear(trackId: number): Extract<SessionEvent, { type: "cleared" }> {
    const marks = this.marksFor(trackId);
    const track = this.published.get(trackId);
    const playedMs = track?.playedOutMs() ?? 0;
    const droppedMs = track?.clear() ?? 0;
    for (const playback of [...this.playbacks.values()]) {
      if (playback.trackId === trackId) playback.stop("cleared", "ClearTrack on its track");
    }
    const outcome = marks.clear(playedMs, droppedMs, track?.writtenMs() ?? playedMs);
    return {
      type: "cleared",
      trackId,
      playedMs: Math.round(outcome.playedMs),
      droppedMs: Math.round(droppedMs),
      marksDropped: outcome.marksDropped,
    };
  }

  private marksFor(trackId: number): TrackMarks {
    let marks = this.marks.get(trackId);
    if (marks === undefined) {
      marks = new TrackMarks();
      this.marks.set(trackId, marks);
    }
    return marks;
  }

  private emit(event: SessionEvent): void {
    this.attachment?.options.onEvent?.(event);
  }

  /** Reports the marks whose audio has played out, in order per track. */
  private checkMarks(): void {
    for (const [trackId, marks] of this.marks) {
      if (marks.size === 0) continue;
      const playedMs = this.published.get(trackId)?.playedOutMs() ?? 0;
      for (const mark of marks.due(playedMs)) {
        this.emit({
          type: "mark_played",
          trackId,
          name: mark.name,
          positionMs: Math.round(mark.atMs),
        });
      }
    }
  }

  /** While an AudioSession is attached: marks every tick, TrackStats at their interval. */
  private startControl(): void {
    this.stopControl();
    this.controlTimer = setInterval(() => {
      const attachment = this.attachment;
      if (attachment?.options.onEvent === undefined) return;
      this.checkMarks();
      const every = attachment.options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
      const now = performance.now();
      if (every <= 0 || now < attachment.statsDueAt) return;
      attachment.statsDueAt = now + every;
      for (const [trackId, track] of this.published) {
        const marks = this.marks.get(trackId);
        this.emit({
          type: "track_stats",
          trackId,
          queuedMs: Math.round(track.queuedMs() + track.bufferedMs()),
          playedMs: Math.round(track.playedOutMs()),
          clearedMs: Math.round(marks?.clearedMs ?? 0),
          pendingMarks: marks?.size ?? 0,
        });
      }
    }, CONTROL_TICK_MS);
  }

  private stopControl(): void {
    if (this.controlTimer !== undefined) clearInterval(this.controlTimer);
    this.controlTimer = undefined;
  }

  /**
   * Plays cloud audio on the track for `trackId`, publishing it on first use. Waits while
   * the session rejoins its room, and while the track's buffer is full.
   */
  async writeAudio(trackId: number, samples: Int16Array, sampleRate: number, channels: number) {
    if (samples.length === 0) return;
    const receivedAt = performance.now();
    const track = await this.trackFor(trackId, sampleRate, channels);
    this.counters.chunksFromCloud++;
    this.marksFor(trackId).beforeWrite(position(track));
    await track.write(samples, sampleRate, channels, receivedAt);
  }

  /**
   * Starts a PlayAudio playback on `request.trackId`. `stopOther` stops every other
   * playback of the user first; otherwise only the one on the same track (and one with
   * the same request id) is replaced. Each stopped playback ends with STOPPED.
   */
  play(request: PlaybackRequest, stopOther: boolean): Playback {
    if (this.closed) {
      throw new ConnectError(
        `the session of user ${this.userId} is closing`,
        Code.FailedPrecondition,
      );
    }
    for (const other of [...this.playbacks.values()]) {
      if (stopOther) other.stop("stop_other", `stop_other by ${request.requestId}`);
      else if (other.trackId === request.trackId || other.requestId === request.requestId) {
        other.stop("replaced", `replaced by ${request.requestId}`);
      }
    }
    const playback = startPlayback({
      request,
      settings: this.options.playback,
      logger: this.options.logger,
      track: (format) =>
        this.trackFor(request.trackId, PLAYBACK_TRACK_RATE, Math.min(2, format.channels)),
      onFinished: (done) => {
        if (this.playbacks.get(done.requestId) === done) this.playbacks.delete(done.requestId);
      },
    });
    this.playbacks.set(request.requestId, playback);
    return playback;
  }

  /**
   * Stops the playback `requestId`, or every playback of the user when it is empty;
   * returns the request ids stopped (none for an unknown id).
   */
  stopPlayback(requestId: string, reason: string, detail = ""): string[] {
    const chosen =
      requestId === ""
        ? [...this.playbacks.values()]
        : [this.playbacks.get(requestId)].filter((p) => p !== undefined);
    for (const playback of chosen) playback.stop(reason, detail);
    return chosen.map((playback) => playback.requestId);
  }

  /** The published track for `trackId`, published now (at this format) on first use. */
  private async trackFor(trackId: number, sampleRate: number, channels: number) {
    await this.whenConnected();
    let track = this.tracks.get(trackId);
    if (track === undefined) {
      const link = this.link;
      if (link === undefined) throw this.notConnected();
      track = link.publishTrack({
        name: trackName(trackId),
        sampleRate,
        channels,
        sourceQueueMs: this.options.track.sourceQueueMs,
        maxBufferMs: this.options.track.bufferMs,
        onFrameLatency: (ms) => this.options.audioLatency.observe("to_room", ms),
      });
      this.tracks.set(trackId, track);
      track.then(
        (published) => {
          if (this.tracks.get(trackId) === track) this.published.set(trackId, published);
        },
        () => this.tracks.delete(trackId),
      );
    }
    return track;
  }

  /** Stops every playback (STOPPED with `reason`) and waits until they have let go. */
  private async endPlaybacks(reason: string, detail: string) {
    const all = [...this.playbacks.values()];
    for (const playback of all) playback.stop(reason, detail);
    await Promise.all(all.map((playback) => playback.finished));
  }

  /** Open handles of every kind; 0 once closed (the leak check tests read). */
  openResources(): number {
    return (
      (this.link?.openHandles() ?? 0) +
      this.tracks.size +
      this.playbacks.size +
      (this.graceTimer === undefined ? 0 : 1) +
      (this.rejoinTimer === undefined ? 0 : 1) +
      (this.statsTimer === undefined ? 0 : 1) +
      (this.controlTimer === undefined ? 0 : 1) +
      (this.deviceAudio.hasTimer ? 1 : 0) +
      (this.attachment === undefined ? 0 : 1) +
      (this.cloudQueue.closed ? 0 : 1)
    );
  }

  /**
   * The one way out: ends the stream (OK for "left", else Unavailable or Aborted), leaves
   * the room, releases tracks, timers and queues. Idempotent.
   */
  close(kind: DisconnectKind, detail = ""): Promise<void> {
    this.closing ??= (async () => {
      this.closeReason = kind;
      this.stopGrace();
      if (this.rejoinTimer !== undefined) clearTimeout(this.rejoinTimer);
      this.rejoinTimer = undefined;
      if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
      this.statsTimer = undefined;
      this.stopControl();
      this.deviceAudio.close();
      this.endStream(kind === "left" ? undefined : this.streamError(kind, detail));
      await this.endPlaybacks(`session_${kind}`, detail);
      this.cloudQueue.close();
      this.cloudQueue.clear();
      const link = this.link;
      if (link !== undefined) {
        this.lastDisconnect = { at: Date.now(), disconnect: { kind, sdkReason: "" } };
      }
      this.link = undefined;
      this.tracks.clear();
      this.published.clear();
      this.marks.clear();
      await link?.close();
      this.options.logger.info("session closed", { userId: this.userId, reason: kind, detail });
      this.options.onClosed(this);
    })();
    return this.closing;
  }

  /** Why the session closed, once it has. */
  get closedBecause(): DisconnectKind | undefined {
    return this.closeReason;
  }

  private async connect(): Promise<RoomLink> {
    const { tokens } = this.options;
    const token = tokens.kind === "given" ? tokens.token : await tokens.mint();
    const release = (await this.options.joinGate?.acquire()) ?? (() => {});
    return connectRoomLink({
      onConnectSettled: release,
      url: this.options.url,
      token,
      tokenExpiresAt: tokenExpiry(token),
      connectTimeoutMs: this.options.connectTimeoutMs,
      targetIdentity: this.options.targetIdentity,
      receive: { ...this.receive, channels: 1 },
      handlers: {
        onDisconnected: (disconnect) => this.onDisconnected(disconnect),
        onData: (payload, origin) => this.onData(payload, origin),
        onAudioFrame: (samples, origin, receivedAt) =>
          this.toCloud(
            samples,
            this.receive.sampleRate,
            receivedAt - (samples.length / this.receive.sampleRate) * 1000,
            origin.identity,
          ),
        onParticipant: (change, identity, trackSid) =>
          this.onParticipant(change, identity, trackSid),
        onLinkResume: (state) => {
          if (state === "reconnected") {
            this.counters.linkResumes++;
            // The devices may have rejoined the room meanwhile, numbering from 1 again.
            this.deviceAudio.restart();
          }
          this.options.logger.info(`room connection ${state} by rtc-node`, {
            userId: this.userId,
          });
        },
        onRemoteTrack: (change, origin) =>
          this.options.logger.info(`remote audio track ${change}`, {
            userId: this.userId,
            identity: origin.identity,
            trackSid: origin.trackSid ?? "",
          }),
      },
    });
  }

  private onData(payload: Uint8Array, origin: AudioOrigin) {
    if (origin.unannounced === true) {
      if (origin.accepted !== true) {
        this.counters.unannouncedDropped++;
        return;
      }
      this.counters.unannouncedAccepted++;
    }
    this.dataIdentity = origin.identity;
    this.deviceAudio.push(payload);
  }

  private toCloud(samples: Int16Array, sampleRate: number, timestampMs: number, identity: string) {
    if (samples.length === 0 || this.closed) return;
    this.counters.chunksToCloud++;
    const chunk: CloudChunk = {
      pcm: int16ToLittleEndianBytes(samples),
      sampleRate,
      channels: 1,
      timestampMs,
      receivedAt: performance.now(),
      sequence: this.nextSequence++,
      identity,
    };
    this.cloudQueue.push(chunk);
    this.replay.add(chunk);
  }

  private onParticipant(change: ParticipantChange, identity: string, trackSid: string) {
    // A device that rejoins numbers its packets from the start again. (Not on "joined":
    // LiveKit may announce a device seconds after its first packets, mid-timeline.)
    if (change === "left" && identity === this.dataIdentity) {
      this.deviceAudio.restart();
    }
    this.emit({ type: "participant", kind: change, identity, trackSid });
  }

  private onDisconnected(lost: Disconnect) {
    this.link = undefined;
    // Whatever comes on the next link is a new timeline: the device rejoins too, maybe
    // numbering from 1 again, and the room's lost time is no packet loss to fill.
    this.deviceAudio.restart();
    this.pastLinkStats = addStats(this.pastLinkStats, this.linkStats);
    this.linkStats = NO_LINK_STATS;
    this.tracks.clear();
    // The tracks are gone with the room; their marks can never play.
    this.published.clear();
    this.marks.clear();
    void this.endPlaybacks(`room_lost`, lost.kind);
    // A recoverable loss that cannot be recovered because the cloud's token has expired
    // is reported as such: that is what the cloud has to fix (JoinRoom with a new token).
    const expired = isRecoverable(lost.kind) && !this.canRenewToken();
    const disconnect: Disconnect = expired ? { ...lost, kind: "token_expired" } : lost;
    this.lastDisconnect = { at: Date.now(), disconnect };
    const canRejoin = isRecoverable(disconnect.kind) && !expired;
    this.options.logger.warn("session lost its room", {
      userId: this.userId,
      room: this.roomName,
      reason: disconnect.kind,
      sdkReason: disconnect.sdkReason,
      rejoining: canRejoin,
    });
    const detail = canRejoin
      ? "rejoining"
      : expired
        ? `${lost.kind}; the token has expired, call JoinRoom with a fresh one`
        : "";
    this.endStream(this.streamError(disconnect.kind, detail));
    if (canRejoin) this.rejoin();
    else void this.close(disconnect.kind);
  }

  private canRenewToken(): boolean {
    const { tokens } = this.options;
    if (tokens.kind === "minted") return true;
    const expiry = tokenExpiry(tokens.token);
    return expiry === undefined || expiry > Date.now();
  }

  private rejoin() {
    let settle: () => void = () => {};
    this.reconnected = new Promise((resolve) => {
      settle = resolve;
    });
    const attempt = (index: number) => {
      this.rejoinTimer = undefined;
      if (this.closed) return settle();
      this.counters.rejoins++;
      this.connect().then(
        (link) => {
          if (this.closed) {
            void link.close();
          } else {
            this.link = link;
            this.options.logger.info("session rejoined its room", {
              userId: this.userId,
              attempt: index + 1,
            });
          }
          this.reconnected = undefined;
          settle();
          if (!this.closed) {
            this.publishEarly().catch((error: unknown) =>
              this.options.logger.warn("publishing at rejoin failed", {
                userId: this.userId,
                error: String(error),
              }),
            );
          }
        },
        (error: unknown) => {
          const delay = REJOIN_BACKOFF_MS[index + 1];
          this.options.logger.warn("rejoin failed", {
            userId: this.userId,
            attempt: index + 1,
            error: String(error),
          });
          if (delay === undefined || this.closed || !this.canRenewToken()) {
            this.reconnected = undefined;
            settle();
            const kind = this.canRenewToken()
              ? (this.lastDisconnect?.disconnect.kind ?? "network")
              : "token_expired";
            void this.close(kind, "rejoin failed");
            return;
          }
          this.rejoinTimer = setTimeout(() => attempt(index + 1), delay);
        },
      );
    };
    attempt(0);
  }

  private async whenConnected() {
    if (this.reconnected !== undefined) await this.reconnected;
    if (this.link === undefined || this.closed) throw this.notConnected();
  }

  private notConnected(): ConnectError {
    const reason = this.lastDisconnect?.disconnect.kind ?? this.closeReason ?? "closed";
    return new ConnectError(
      `user ${this.userId} is not in room ${this.roomName} (${reason}); call JoinRoom again`,
      Code.Unavailable,
    );
  }

  private streamError(kind: DisconnectKind, detail: string): ConnectError {
    const suffix = detail === "" ? "" : `; ${detail}`;
    switch (kind) {
      case "duplicate_identity":
        return new ConnectError(
          `another participant joined room ${this.roomName} with the bridge's identity ` +
            `(duplicate identity): another instance owns user ${this.userId} now${suffix}`,
          Code.Aborted,
        );
      case "replaced":
        return new ConnectError(
          `the session of user ${this.userId} was replaced by a new JoinRoom${suffix}`,
          Code.Aborted,
        );
      case "left":
        return new ConnectError(`the session of user ${this.userId} ended${suffix}`, Code.Canceled);
      default:
        return new ConnectError(
          `lost room ${this.roomName} for user ${this.userId}: ${kind}${suffix}`,
          Code.Unavailable,
        );
    }
  }

  /** Ends the attached stream, if any; `reason` undefined ends it with OK. */
  private endStream(reason: ConnectError | undefined) {
    const attachment = this.attachment;
    if (attachment === undefined) return;
    this.attachment = undefined;
    attachment.controller.abort(reason);
  }

  /** Reads the link's statistics every statsIntervalMs, one read at a time. */
  private startStats() {
    const every = this.options.statsIntervalMs;
    if (every <= 0 || this.closed) return;
    let reading = false;
    this.statsTimer = setInterval(() => {
      const link = this.link;
      if (reading || link === undefined) return;
      reading = true;
      void link.stats().then((stats) => {
        reading = false;
        if (this.link === link) this.linkStats = stats;
      });
    }, every);
  }

  /** Media figures for GetStatus: counters over every link of the session, and gauges now. */
  private mediaFigures(): Record<string, string> {
    const total = addStats(this.pastLinkStats, this.linkStats);
    return {
      room_packets_received: String(total.packetsReceived),
      room_packets_lost: String(total.packetsLost),
      room_concealed_ms: String(total.concealedMs),
      room_jitter_ms: String(this.linkStats.jitterMs),
      room_packets_sent: String(total.packetsSent),
      room_packets_lost_by_peer: String(total.packetsLostByPeer),
      room_round_trip_ms: String(this.linkStats.roundTripMs),
    };
  }

  private startGrace() {
    this.stopGrace();
    if (this.closed) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      void this.close("left", `no StreamAudio stream for ${this.options.streamGraceMs} ms`);
    }, this.options.streamGraceMs);
  }

  private stopGrace() {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }
}

/** Device packet figures as GetStatus metadata (the keys /metrics sums). */
function devicePacketMetadata(figures: DevicePacketFigures): Record<string, string> {
  return {
    device_packet_format: figures.format,
    device_packets_accepted: String(figures.accepted),
    device_packets_lost: String(figures.lost),
    device_packets_duplicate: String(figures.duplicate),
    device_packets_late: String(figures.late),
    device_packets_reordered: String(figures.reordered),
    device_packets_invalid: String(figures.invalid),
    device_packet_resyncs: String(figures.resyncs),
    device_loss_filled_ms: String(figures.lossFilledMs),
  };
}

/** Counters summed; gauges (jitter, round trip) from `b`, the newer. */
function addStats(a: LinkStats, b: LinkStats): LinkStats {
  return {
    packetsReceived: a.packetsReceived + b.packetsReceived,
    packetsLost: a.packetsLost + b.packetsLost,
    concealedMs: a.concealedMs + b.concealedMs,
    jitterMs: b.jitterMs,
    packetsSent: a.packetsSent + b.packetsSent,
    packetsLostByPeer: a.packetsLostByPeer + b.packetsLostByPeer,
    roundTripMs: b.roundTripMs,
  };
}

/** A track's position: everything written to it, and what has played out. */
function position(track: OutboundTrack): TrackPosition {
  // Written is counted exactly; played out rests on the AudioSource's estimate.
  const writtenMs = track.writtenMs();
  return { writtenMs, playedMs: Math.min(writtenMs, track.playedOutMs()) };
}
