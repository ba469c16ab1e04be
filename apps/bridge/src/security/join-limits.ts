import { availableParallelism } from "node:os";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { LiveKitBridge } from "@mentra/bridge-proto";

/** What the limits need to know about sessions. */
export interface SessionCount {
  /** Live sessions now. */
  count(): number;
  /** Whether the user has a live session (a JoinRoom for them replaces it). */
  has(userId: string): boolean;
}

/** Options of {@link createJoinLimits}. */
export interface JoinLimitsOptions {
  readonly sessions: SessionCount;
  /** Most sessions at once. */
  readonly maxSessions: number;
  /** JoinRoom calls per user per minute, sustained. */
  readonly ratePerMinute: number;
  /** JoinRoom calls a user may make at once. */
  readonly burst: number;
  /** True while the bridge drains: JoinRoom is Unavailable then. */
  readonly isDraining: () => boolean;
  /** Clock in milliseconds; tests pass a fake one. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

// Buckets of users idle long enough to be full again are forgotten past this many.
const MAX_BUCKETS = 10_000;

/**
 * Guards JoinRoom: Unavailable while draining (the cloud should join another instance),
 * ResourceExhausted when a new user would exceed `maxSessions`, and ResourceExhausted with
 * a retry hint (`retry-after-ms` and `grpc-retry-pushback-ms` metadata) when a user joins
 * faster than a token bucket of `burst` tokens refilled at `ratePerMinute` allows.
 */
export function createJoinLimits(options: JoinLimitsOptions): Interceptor {
  const now = options.now ?? (() => performance.now());
  const refillPerMs = options.ratePerMinute / 60_000;
  const buckets = new Map<string, Bucket>();
  let joining = 0;

  function take(userId: string): number {
    const at = now();
    const bucket = buckets.get(userId) ?? { tokens: options.burst, at };
    bucket.tokens = Math.min(options.burst, bucket.tokens + (at - bucket.at) * refillPerMs);
    bucket.at = at;
    buckets.delete(userId);
    buckets.set(userId, bucket);
    if (buckets.size > MAX_BUCKETS) {
      const oldest = buckets.keys().next().value;
      if (oldest !== undefined) buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / refillPerMs);
  }

  return (next) => async (req) => {
    if (req.service.typeName !== LiveKitBridge.typeName || req.method.name !== "JoinRoom") {
      return next(req);
    }
    if (options.isDraining()) {
      throw new ConnectError(
        "the bridge is shutting down and takes no new sessions: join another instance",
        Code.Unavailable,
      );
    }
    const userId = (req.message as { userId?: unknown }).userId;
    if (typeof userId !== "string" || userId === "") return next(req);
    const waitMs = take(userId);
    if (waitMs > 0) {
      throw new ConnectError(
        `JoinRoom rate for user ${userId} exceeded (${options.ratePerMinute}/min, burst ${options.burst}): retry in ${waitMs} ms`,
        Code.ResourceExhausted,
        { "retry-after-ms": String(waitMs), "grpc-retry-pushback-ms": String(waitMs) },
      );
    }
    const isNew = !options.sessions.has(userId);
    if (isNew && options.sessions.count() + joining >= options.maxSessions) {
      throw new ConnectError(
        `the bridge is at its limit of ${options.maxSessions} sessions (MAX_SESSIONS)`,
        Code.ResourceExhausted,
      );
    }
    if (isNew) joining++;
    try {
      return await next(req);
    } finally {
      if (isNew) joining--;
    }
  };
}

/**
 * Room connects at once when MAX_JOINS_IN_FLIGHT is 0: half the cores, at least 1. A connect
 * costs ~105 ms of CPU on this bridge and LiveKit together, mostly on native threads; with as
 * many in flight as cores, a burst takes every core and running sessions' audio waits
 * (on 2 cores: a 104–108 ms pause with 4 in flight, 74–79 ms with 2, 44–53 ms with 1).
 */
export function joinsInFlightFor(cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

/** Options of {@link createJoinGate}. */
export interface JoinGateOptions {
  /** Room connects running at once, process-wide (MAX_JOINS_IN_FLIGHT). */
  readonly maxInFlight: number;
  /** Connects waiting for a slot before more are refused (JOIN_QUEUE_MAX). */
  readonly queueMax: number;
  /** Longest wait for a slot (JOIN_QUEUE_TIMEOUT_MS). */
  readonly queueTimeoutMs: number;
}

/** Joins in flight and waiting, for metrics and tests. */
export interface JoinGateCounts {
  readonly inFlight: number;
  readonly queued: number;
  /** Refused since start: the queue was full, or the wait ran out. */
  readonly refused: number;
}

/** A process-wide limit on LiveKit room connects (JoinRoom and rejoins). */
export interface JoinGate {
  /**
   * Waits for a slot and returns its release (idempotent). Rejects ResourceExhausted when
   * the queue is full, Unavailable when the wait exceeds the queue timeout.
   */
  acquire(): Promise<() => void>;
  counts(): JoinGateCounts;
}

/**
 * Bounds the room connects running at once: each one costs the process CPU (signalling,
 * two peer connections, DTLS) that running sessions need for their audio, so a burst of
 * JoinRooms waits in a bounded queue, first come first served, instead of starving them.
 */
export function createJoinGate(options: JoinGateOptions): JoinGate {
  let inFlight = 0;
  let refused = 0;
  const queue: { grant: () => void }[] = [];

  const slot = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queue.shift();
      if (next === undefined) inFlight--;
      else next.grant();
    };
  };

  return {
    acquire() {
      if (inFlight < options.maxInFlight && queue.length === 0) {
        inFlight++;
        return Promise.resolve(slot());
      }
      if (queue.length >= options.queueMax) {
        refused++;
        return Promise.reject(
          new ConnectError(
            `too many JoinRooms at once: ${options.maxInFlight} connecting and ${queue.length} waiting (MAX_JOINS_IN_FLIGHT, JOIN_QUEUE_MAX); retry later`,
            Code.ResourceExhausted,
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => {
            clearTimeout(timer);
            resolve(slot());
          },
        };
        const timer = setTimeout(() => {
          const index = queue.indexOf(entry);
          if (index >= 0) queue.splice(index, 1);
          refused++;
          reject(
            new ConnectError(
              `JoinRoom waited ${options.queueTimeoutMs} ms for one of ${options.maxInFlight} join slots (JOIN_QUEUE_TIMEOUT_MS); retry later`,
              Code.Unavailable,
            ),
          );
        }, options.queueTimeoutMs);
        queue.push(entry);
      });
    },
    counts: () => ({ inFlight, queued: queue.length, refused }),
  };
}
