import {
  type AudioOrigin,
  type Disconnect,
  type DisconnectKind,
  type LinkStats,
  NO_LINK_STATS,
  type RoomLink,
  type RoomLinkOptions,
  tokenExpiry,
} from "../livekit/index.js";
import type { Logger } from "../logger.js";
import type { JoinGate } from "../security/join-limits.js";
import {
  canRenewToken,
  decideAfterLoss,
  kindAfterGivingUp,
  type LossDecision,
  rejoinDelayAfter,
  type TokenSource,
} from "./rejoin-policy.js";
import type { ParticipantChange } from "./session-events.js";
import { addStats, type LastDisconnect, mediaMetadata } from "./session-status.js";

/** Joins a room: connectRoomLink from ../livekit, or an in-memory link in tests. */
export type ConnectRoomLink = (options: RoomLinkOptions) => Promise<RoomLink>;

/** The receive format of microphone tracks (always mono for the cloud). */
export interface ReceiveSettings {
  readonly sampleRate: number;
  readonly frameMs: number;
}

/** What a {@link RoomConnection} tells its session. */
export interface RoomConnectionEvents {
  /** A data packet from the target, or an unannounced one (see AudioOrigin). */
  onData(payload: Uint8Array, origin: AudioOrigin): void;
  /** One frame of microphone audio; `timestampMs` is when its first sample arrived. */
  onRoomAudio(samples: Int16Array, sampleRate: number, timestampMs: number, identity: string): void;
  onParticipant(change: ParticipantChange, identity: string, trackSid: string): void;
  /** rtc-node resumed the connection by itself: the devices may have rejoined meanwhile. */
  onLinkResumed(): void;
  /** The link is gone (`lost`, as rtc-node said); the decision says whether a rejoin follows. */
  onLost(lost: Disconnect, decision: LossDecision): void;
  /** A rejoin succeeded: a new link is in place. */
  onRejoined(): void;
  /** No rejoin (the loss is final, or every attempt failed): close with `kind`. */
  onGaveUp(kind: DisconnectKind, detail: string): void;
}

/** Options of {@link createRoomConnection}. */
export interface RoomConnectionOptions {
  readonly userId: string;
  readonly roomName: string;
  readonly url: string;
  readonly targetIdentity: string;
  readonly tokens: TokenSource;
  readonly connectTimeoutMs: number;
  readonly joinGate?: JoinGate;
  /** How often to read the link's WebRTC statistics; 0 never. */
  readonly statsIntervalMs: number;
  readonly receive: ReceiveSettings;
  readonly logger: Logger;
  readonly connect: ConnectRoomLink;
  readonly events: RoomConnectionEvents;
}

/**
 * A session's presence in its room across links: the first join, the rejoins with backoff
 * after a recoverable loss, and the link's statistics. States: connected (a link),
 * rejoining (`reconnected` pending, maybe a backoff timer), lost, stopped.
 */
export interface RoomConnection {
  /** The current link; undefined while rejoining or once lost or closed. */
  readonly link: RoomLink | undefined;
  readonly lastDisconnect: LastDisconnect | undefined;
  /** Rejoin attempts, and losses rtc-node resumed by itself without one. */
  readonly rejoins: number;
  readonly linkResumes: number;
  readonly receive: ReceiveSettings;
  /** Joins the first time; rejects as the link does. */
  open(): Promise<void>;
  /** The link once any rejoin in progress settled; undefined when there is none. */
  whenConnected(): Promise<RoomLink | undefined>;
  setReceiveFormat(format: ReceiveSettings): void;
  /** Media figures for GetStatus over every link. */
  mediaMetadata(): Record<string, string>;
  /** Timers and the link's handles. */
  openHandles(): number;
  /** Stops rejoining and reading statistics now; the link stays until {@link close}. */
  stop(): void;
  /** Leaves the room, recording `kind` as the last disconnect. */
  close(kind: DisconnectKind): Promise<void>;
}

/** Creates a {@link RoomConnection}; nothing is joined until open(). */
export function createRoomConnection(options: RoomConnectionOptions): RoomConnection {
  return new LinkKeeper(options);
}

class LinkKeeper implements RoomConnection {
  link: RoomLink | undefined;
  lastDisconnect: LastDisconnect | undefined;
  rejoins = 0;
  linkResumes = 0;
  private receiveFormat: ReceiveSettings;
  private stopped = false;
  private reconnected: Promise<void> | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  /** The current link's last statistics, and the sum of earlier links' last ones. */
  private linkStats: LinkStats = NO_LINK_STATS;
  private pastLinkStats: LinkStats = NO_LINK_STATS;

  constructor(private readonly options: RoomConnectionOptions) {
    this.receiveFormat = { ...options.receive };
  }

  get receive(): ReceiveSettings {
    return { ...this.receiveFormat };
  }

  async open(): Promise<void> {
    this.link = await this.connect();
    this.startStats();
  }

  async whenConnected(): Promise<RoomLink | undefined> {
    if (this.reconnected !== undefined) await this.reconnected;
    return this.stopped ? undefined : this.link;
  }

  setReceiveFormat(format: ReceiveSettings): void {
    this.receiveFormat = { ...format };
    this.link?.setReceiveFormat({ ...format, channels: 1 });
  }

  mediaMetadata(): Record<string, string> {
    return mediaMetadata(this.pastLinkStats, this.linkStats);
  }

  openHandles(): number {
    return (
      (this.link?.openHandles() ?? 0) +
      (this.rejoinTimer === undefined ? 0 : 1) +
      (this.statsTimer === undefined ? 0 : 1)
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.rejoinTimer !== undefined) clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  async close(kind: DisconnectKind): Promise<void> {
    this.stop();
    const link = this.link;
    if (link !== undefined) {
      this.lastDisconnect = { at: Date.now(), disconnect: { kind, sdkReason: "" } };
    }
    this.link = undefined;
    await link?.close();
  }

  private canRenew(): boolean {
    return canRenewToken(this.options.tokens, Date.now());
  }

  private async connect(): Promise<RoomLink> {
    const { options } = this;
    const { tokens, events, logger, userId } = options;
    const token = tokens.kind === "given" ? tokens.token : await tokens.mint();
    const release = (await options.joinGate?.acquire()) ?? (() => {});
    return options.connect({
      onConnectSettled: release,
      url: options.url,
      token,
      tokenExpiresAt: tokenExpiry(token),
      connectTimeoutMs: options.connectTimeoutMs,
      targetIdentity: options.targetIdentity,
      receive: { ...this.receiveFormat, channels: 1 },
      handlers: {
        onDisconnected: (lost) => this.onDisconnected(lost),
        onData: (payload, origin) => events.onData(payload, origin),
        onAudioFrame: (samples, origin, receivedAt) => {
          const { sampleRate } = this.receiveFormat;
          const startedAt = receivedAt - (samples.length / sampleRate) * 1000;
          events.onRoomAudio(samples, sampleRate, startedAt, origin.identity);
        },
        onParticipant: (change, identity, trackSid) =>
          events.onParticipant(change, identity, trackSid),
        onLinkResume: (state) => {
          if (state === "reconnected") {
            this.linkResumes++;
            events.onLinkResumed();
          }
          logger.info(`room connection ${state} by rtc-node`, { userId });
        },
        onRemoteTrack: (change, origin) =>
          logger.info(`remote audio track ${change}`, {
            userId,
            identity: origin.identity,
            trackSid: origin.trackSid ?? "",
          }),
      },
    });
  }

  private onDisconnected(lost: Disconnect) {
    this.link = undefined;
    this.pastLinkStats = addStats(this.pastLinkStats, this.linkStats);
    this.linkStats = NO_LINK_STATS;
    const decision = decideAfterLoss(lost, this.canRenew());
    const { disconnect } = decision;
    this.lastDisconnect = { at: Date.now(), disconnect };
    this.options.logger.warn("session lost its room", {
      userId: this.options.userId,
      room: this.options.roomName,
      reason: disconnect.kind,
      sdkReason: disconnect.sdkReason,
      rejoining: decision.rejoin,
    });
    this.options.events.onLost(lost, decision);
    if (decision.rejoin) this.rejoin();
    else this.options.events.onGaveUp(disconnect.kind, "");
  }

  /** Rejoins with backoff (REJOIN_BACKOFF_MS); writes wait on `reconnected` meanwhile. */
  private rejoin() {
    const { events, logger, userId } = this.options;
    let settle: () => void = () => {};
    this.reconnected = new Promise((resolve) => {
      settle = resolve;
    });
    const settled = () => {
      this.reconnected = undefined;
      settle();
    };
    const attempt = (index: number) => {
      this.rejoinTimer = undefined;
      if (this.stopped) return settle();
      this.rejoins++;
      this.connect().then(
        (joined) => {
          if (this.stopped) {
            void joined.close();
          } else {
            this.link = joined;
            logger.info("session rejoined its room", { userId, attempt: index + 1 });
          }
          settled();
          if (!this.stopped) events.onRejoined();
        },
        (error: unknown) => {
          const delay = rejoinDelayAfter(index);
          logger.warn("rejoin failed", { userId, attempt: index + 1, error: String(error) });
          if (delay === undefined || this.stopped || !this.canRenew()) {
            settled();
            const kind = kindAfterGivingUp(this.lastDisconnect?.disconnect.kind, this.canRenew());
            events.onGaveUp(kind, "rejoin failed");
            return;
          }
          this.rejoinTimer = setTimeout(() => attempt(index + 1), delay);
        },
      );
    };
    attempt(0);
  }

  /** Reads the link's statistics every statsIntervalMs, one read at a time. */
  private startStats() {
    const every = this.options.statsIntervalMs;
    if (every <= 0 || this.stopped) return;
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
}
