import { readFileSync } from "node:fs";
import type * as net from "node:net";

/** Why the bridge closed a connection itself. */
export type ConnectionCloseReason =
  /** It sent no complete request within the first-request timeout. */
  | "first_request_timeout"
  /** It had no open call for the idle timeout. */
  | "idle_timeout"
  /** The connection limit was reached and a newer connection took its place. */
  | "evicted"
  /** It arrived past the connection limit with nothing idle to evict: refused. */
  | "refused";

/** Options of {@link createConnectionGuard}. */
export interface ConnectionGuardOptions {
  /** Connections open at once. */
  readonly maxConnections: number;
  /** How long a new connection may go without a complete request. */
  readonly firstRequestTimeoutMs: number;
  /** How long a connection with no open call is kept. */
  readonly idleTimeoutMs: number;
  /**
   * Closes a connection the guard gave up on: `graceful` for one that timed out (HTTP/2
   * GOAWAY, so a client that was about to use it retries elsewhere), at once when evicted.
   */
  readonly close: (socket: net.Socket, graceful: boolean) => void;
  /** Told of every connection the guard closed or refused, for the metrics. */
  readonly onClosed?: (reason: ConnectionCloseReason) => void;
}

/**
 * Bounds connections in number and in time: every descriptor a connection holds is one
 * the process cannot use for anything else, and at the end of them it cannot accept, read
 * its own memory figures or spawn anything.
 */
export interface ConnectionGuard {
  /** Takes a new connection in, evicting the idlest when full; false when it was refused. */
  admit(socket: net.Socket): boolean;
  /** A call (HTTP/2 stream, HTTP/1.1 request) started on the connection. */
  callStarted(socket: net.Socket): void;
  /** A call on the connection ended. */
  callEnded(socket: net.Socket): void;
  /** Connections open now. */
  readonly size: number;
  /** Stops the timer; connections are left to their owner. */
  stop(): void;
}

interface Entry {
  open: number;
  /** When it was accepted (never served) or last went idle. */
  since: number;
  closed: boolean;
}

/**
 * The default connection limit: a quarter of the process's descriptor limit, so rooms,
 * downloads and the process itself always keep three quarters, and at most 1000.
 */
export function defaultMaxConnections(limits = readOpenFilesLimit()): number {
  return Math.max(16, Math.min(1000, Math.floor(limits / 4)));
}

/** The soft RLIMIT_NOFILE of this process (after Node raised it), 1024 when unreadable. */
export function readOpenFilesLimit(): number {
  try {
    const text = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(text)?.[1];
    if (soft === undefined) return 1024;
    return soft === "unlimited" ? 1_048_576 : Number(soft);
  } catch {
    return 1024;
  }
}

/** Creates a {@link ConnectionGuard}; its one timer does not hold the process open. */
export function createConnectionGuard(options: ConnectionGuardOptions): ConnectionGuard {
  const entries = new Map<net.Socket, Entry>();
  // Insertion order is the order of `since`: the first of each is the idlest.
  const fresh = new Set<net.Socket>();
  const idle = new Set<net.Socket>();

  const giveUp = (socket: net.Socket, entry: Entry, reason: ConnectionCloseReason) => {
    entry.closed = true;
    fresh.delete(socket);
    idle.delete(socket);
    options.onClosed?.(reason);
    options.close(socket, reason !== "evicted");
  };

  const sweep = () => {
    const now = performance.now();
    for (const [set, timeoutMs, reason] of [
      [fresh, options.firstRequestTimeoutMs, "first_request_timeout"],
      [idle, options.idleTimeoutMs, "idle_timeout"],
    ] as const) {
      for (const socket of set) {
        const entry = entries.get(socket);
        if (entry === undefined) {
          set.delete(socket);
          continue;
        }
        if (now - entry.since < timeoutMs) break;
        giveUp(socket, entry, reason);
      }
    }
  };
  const tickMs = Math.max(
    25,
    Math.min(1000, Math.floor(Math.min(options.firstRequestTimeoutMs, options.idleTimeoutMs) / 5)),
  );
  const timer = setInterval(sweep, tickMs);
  timer.unref();

  return {
    admit(socket) {
      if (entries.size >= options.maxConnections) {
        // Connections that never completed a request go first, then the longest idle.
        const victim = fresh.values().next().value ?? idle.values().next().value;
        const victimEntry = victim === undefined ? undefined : entries.get(victim);
        if (victim === undefined || victimEntry === undefined) {
          options.onClosed?.("refused");
          socket.destroy();
          return false;
        }
        giveUp(victim, victimEntry, "evicted");
        // Its close event comes later; it no longer counts.
        entries.delete(victim);
      }
      const entry: Entry = { open: 0, since: performance.now(), closed: false };
      entries.set(socket, entry);
      fresh.add(socket);
      socket.once("close", () => {
        if (entries.get(socket) === entry) entries.delete(socket);
        fresh.delete(socket);
        idle.delete(socket);
      });
      return true;
    },
    callStarted(socket) {
      const entry = entries.get(socket);
      if (entry === undefined || entry.closed) return;
      entry.open += 1;
      fresh.delete(socket);
      idle.delete(socket);
    },
    callEnded(socket) {
      const entry = entries.get(socket);
      if (entry === undefined || entry.closed) return;
      entry.open = Math.max(0, entry.open - 1);
      if (entry.open === 0) {
        entry.since = performance.now();
        idle.add(socket);
      }
    },
    get size() {
      return entries.size;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
