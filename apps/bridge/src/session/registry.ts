import { randomBytes } from "node:crypto";
import type { ByteOrderSetting, Config } from "../config.js";
import { identityFor, mintJoinToken } from "../livekit/index.js";
import type { LogFields, Logger } from "../logger.js";
import { type AudioLatencySink, NO_AUDIO_LATENCY } from "../observability/audio-latency.js";
import { createPlaybackBufferBudget } from "../playback/buffer-budget.js";
import type { PlaybackSettings } from "../playback/playback.js";
import { createAddressPolicy } from "../playback/url-policy.js";
import { createJoinGate, type JoinGate, joinsInFlightFor } from "../security/join-limits.js";
import { createMintPolicy, type MintPolicy } from "../security/mint-policy.js";
import { Session, type SessionStatus, type TokenSource } from "./session.js";
import { shuttingDown } from "./session-errors.js";

/** Statuses of closed sessions kept for GetStatus, oldest forgotten first. */
const MAX_REMEMBERED = 10_000;

/** What JoinRoom asks for, after validation. */
export interface JoinParams {
  readonly userId: string;
  /** Fields naming the JoinRoom call on the "session joined" line (request id, rpc). */
  readonly logFields?: LogFields;
  readonly roomName: string;
  /** Empty: mint one. */
  readonly token: string;
  /** Empty: the configured default. */
  readonly livekitUrl: string;
  readonly targetIdentity: string;
  /** Undefined: the configured default. */
  readonly byteOrder: ByteOrderSetting | undefined;
  /** 0: 16000. */
  readonly receiveSampleRate: number;
  /** 0: the configured default. */
  readonly receiveFrameMs: number;
  /** Joins beside another bridge's session of the user (see {@link handoverIdentity}). */
  readonly handover?: boolean;
}

/** The LiveKit server sessions join by default, and the key to mint tokens for it. */
export interface LiveKitTarget {
  readonly url: string;
  readonly apiKey: string | undefined;
  readonly apiSecret: string | undefined;
}

/** Thrown by {@link SessionRegistry.join} for a request the bridge cannot serve. */
export class JoinError extends Error {
  override readonly name = "JoinError";
}

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  readonly config: Pick<
    Config,
    | "identityTemplate"
    | "tokenTtlSeconds"
    | "connectTimeoutMs"
    | "streamGraceMs"
    | "pcmByteOrder"
    | "receiveFrameMs"
    | "cloudQueueMs"
    | "cloudMaxDelayMs"
    | "roomStatsIntervalMs"
    | "replayMs"
    | "publishAtJoin"
    | "trackBufferMs"
    | "trackSourceQueueMs"
    | "trackJitterBufferMs"
    | "trackMaxLateMs"
    | "playbackConnectTimeoutMs"
    | "playbackIdleTimeoutMs"
    | "playbackTotalTimeoutMs"
    | "playbackMaxBytes"
    | "playbackMaxRedirects"
    | "playbackProgressMs"
    | "playbackAllowHosts"
    | "livekitUrlAllowlist"
    | "maxJoinsInFlight"
    | "joinQueueMax"
    | "joinQueueTimeoutMs"
    | "playbackWindowBytes"
    | "playbackBufferTotalBytes"
  >;
  readonly livekit: LiveKitTarget;
  readonly logger: Logger;
  /** Where sessions report the time audio spends inside the bridge; default nowhere. */
  readonly audioLatency?: AudioLatencySink;
}

/** All sessions of this bridge, one per user; JoinRoom for a user replaces the old one. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly remembered = new Map<string, SessionStatus>();
  private shuttingDown = false;
  private readonly playback: PlaybackSettings;
  private readonly mintPolicy: MintPolicy;
  /** Room connects running at once, process-wide (MAX_JOINS_IN_FLIGHT). */
  readonly joinGate: JoinGate;

  constructor(private readonly options: SessionRegistryOptions) {
    const { config } = options;
    this.mintPolicy = createMintPolicy({
      configuredUrl: options.livekit.url,
      allowlist: config.livekitUrlAllowlist,
    });
    this.joinGate = createJoinGate({
      maxInFlight: config.maxJoinsInFlight || joinsInFlightFor(),
      queueMax: config.joinQueueMax,
      queueTimeoutMs: config.joinQueueTimeoutMs,
    });
    this.playback = {
      limits: {
        connectTimeoutMs: config.playbackConnectTimeoutMs,
        idleTimeoutMs: config.playbackIdleTimeoutMs,
        totalTimeoutMs: config.playbackTotalTimeoutMs,
        maxBytes: config.playbackMaxBytes,
        maxRedirects: config.playbackMaxRedirects,
      },
      policy: createAddressPolicy({ allow: config.playbackAllowHosts }),
      progressIntervalMs: config.playbackProgressMs,
      buffer: createPlaybackBufferBudget({
        windowBytes: config.playbackWindowBytes,
        totalBytes: config.playbackBufferTotalBytes,
      }),
    };
  }

  /** The user's open session. */
  get(userId: string): Session | undefined {
    return this.sessions.get(userId);
  }

  /** Live sessions and attached streams, for HealthCheck. */
  counts(): { sessions: number; streams: number } {
    let streams = 0;
    for (const session of this.sessions.values()) if (session.hasStream) streams++;
    return { sessions: this.sessions.size, streams };
  }

  /** The user's live status, or the last one of a closed session. */
  status(userId: string): SessionStatus | undefined {
    return this.sessions.get(userId)?.status() ?? this.remembered.get(userId);
  }

  /**
   * Joins a room for the user, closing the user's previous session first. Calls for the
   * same user run one at a time. Rejects with JoinError or the room's join error, with a
   * SessionError ("draining") once shutdown began, or with PermissionDenied when the
   * bridge may not mint a token for the named server; a refused join leaves the user's
   * current session alone.
   */
  join(params: JoinParams): Promise<Session> {
    let tokens: TokenSource;
    try {
      tokens = this.tokenSource(params);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.serialise(params.userId, async () => {
      if (this.shuttingDown) throw shuttingDown();
      await this.sessions.get(params.userId)?.close("replaced", "replaced by a new JoinRoom");
      const { config, logger } = this.options;
      const session = await Session.open({
        userId: params.userId,
        roomName: params.roomName,
        url: params.livekitUrl || this.options.livekit.url,
        targetIdentity: params.targetIdentity,
        audioLatency: this.options.audioLatency ?? NO_AUDIO_LATENCY,
        tokens,
        connectTimeoutMs: config.connectTimeoutMs,
        joinGate: this.joinGate,
        streamGraceMs: config.streamGraceMs,
        byteOrder: params.byteOrder ?? config.pcmByteOrder,
        receive: {
          sampleRate: params.receiveSampleRate || 16_000,
          frameMs: params.receiveFrameMs || config.receiveFrameMs,
        },
        cloudQueueMs: config.cloudQueueMs,
        cloudMaxDelayMs: config.cloudMaxDelayMs,
        statsIntervalMs: config.roomStatsIntervalMs,
        replayMs: config.replayMs,
        publishAtJoin: config.publishAtJoin,
        track: {
          bufferMs: config.trackBufferMs,
          sourceQueueMs: config.trackSourceQueueMs,
          jitterBufferMs: config.trackJitterBufferMs,
          maxLateMs: config.trackMaxLateMs,
        },
        playback: this.playback,
        logger,
        onClosed: (closed) => this.forget(closed),
      });
      if (this.shuttingDown) {
        // Shutdown began while this join was connecting: leave again, say so.
        await session.close("server_shutdown", "bridge shutting down");
        throw shuttingDown();
      }
      this.sessions.set(params.userId, session);
      this.remembered.delete(params.userId);
      logger.info("session joined", {
        ...params.logFields,
        userId: params.userId,
        room: params.roomName,
        identity: session.identity,
      });
      return session;
    });
  }

  /** Closes the user's session (LeaveRoom); false when there was none. */
  leave(userId: string, reason: string): Promise<boolean> {
    return this.serialise(userId, async () => {
      const session = this.sessions.get(userId);
      if (session === undefined) return false;
      await session.close("left", reason);
      return true;
    });
  }

  /**
   * Shutdown begins: every session with an AudioSession call is told to move before
   * `deadlineMs`; returns how many were told.
   */
  notifyDraining(deadlineMs: number): number {
    let told = 0;
    for (const session of this.sessions.values()) {
      if (!session.hasAudioSession) continue;
      session.notifyDraining(deadlineMs, "the bridge is shutting down");
      told++;
    }
    return told;
  }

  /** Sessions an AudioSession call is attached to (they can be handed over). */
  movableSessions(): number {
    let count = 0;
    for (const session of this.sessions.values()) if (session.hasAudioSession) count++;
    return count;
  }

  /** Closes every session (shutdown); later joins are refused. */
  async closeAll(): Promise<void> {
    this.shuttingDown = true;
    const closeOpen = () =>
      Promise.all(
        [...this.sessions.values()].map((s) => s.close("server_shutdown", "bridge shutting down")),
      );
    // Open sessions first, at once: their streams end Unavailable and their clients move on.
    await closeOpen();
    // Joins in flight finish or fail; one that got in is closed with the rest.
    await Promise.allSettled([...this.pending.values()]);
    await closeOpen();
  }

  private tokenSource(params: JoinParams): TokenSource {
    if (params.token !== "") return { kind: "given", token: params.token };
    // A minted token lets whoever receives it into the room: never to a caller's server.
    this.mintPolicy.checkTarget(params.livekitUrl);
    const { apiKey, apiSecret } = this.options.livekit;
    if (apiKey === undefined || apiSecret === undefined) {
      throw new JoinError(
        "JoinRoom has no token and the bridge cannot mint one (set LIVEKIT_API_KEY and LIVEKIT_API_SECRET)",
      );
    }
    const { identityTemplate, tokenTtlSeconds } = this.options.config;
    const usual = identityFor(identityTemplate, params.userId);
    // Fixed for the session, so a rejoin keeps it.
    const identity = params.handover === true ? handoverIdentity(usual) : usual;
    return {
      kind: "minted",
      mint: () =>
        mintJoinToken({
          apiKey,
          apiSecret,
          room: params.roomName,
          identity,
          ttlSeconds: tokenTtlSeconds,
        }),
    };
  }

  private forget(session: Session) {
    if (this.sessions.get(session.userId) !== session) return;
    this.sessions.delete(session.userId);
    this.remembered.set(session.userId, session.status());
    if (this.remembered.size > MAX_REMEMBERED) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
  }

  private serialise<T>(userId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.pending.get(userId) ?? Promise.resolve();
    const next = previous.then(task);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.pending.set(userId, settled);
    void settled.then(() => {
      if (this.pending.get(userId) === settled) this.pending.delete(userId);
    });
    return next;
  }
}

/**
 * The identity a handover joins with: the usual one plus "~" and a random suffix. LiveKit
 * removes a participant when another joins with its identity; a distinct one lets the
 * old bridge and the new one share the room until the client has switched over.
 */
export function handoverIdentity(usual: string): string {
  return `${usual}~${randomBytes(4).toString("hex")}`;
}
