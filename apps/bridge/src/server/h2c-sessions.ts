import * as http2 from "node:http2";
import type * as net from "node:net";
import type { ConnectionGuard } from "../connection-guard.js";
import type { Logger } from "../logger.js";
import type { RequestHandler } from "./options.js";
import type { StreamThrottle } from "./stream-throttle.js";

/** The HTTP/2 side of the port: sockets that opened with the h2c preface are served here. */
export interface H2cSessions {
  /** Serves a socket whose first bytes were the HTTP/2 preface (they are back in it). */
  accept(socket: net.Socket): void;
  /** The session `socket` was handed to, while it is open. */
  sessionOf(socket: net.Socket): http2.ServerHttp2Session | undefined;
  /** Shutdown: GOAWAY to every session; open streams finish, new ones go elsewhere. */
  drain(): void;
}

/** Options of {@link createH2cSessions}. */
export interface H2cSessionsOptions {
  readonly handler: RequestHandler;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of every session. */
  readonly maxConcurrentStreams: number;
  /** Where the open sessions are kept (the throttle reads it too). */
  readonly sessions: Set<http2.ServerHttp2Session>;
  readonly throttle: StreamThrottle;
  /** Told of each stream as a call of its socket, for the idle timeout. */
  readonly guard: Pick<ConnectionGuard, "callStarted" | "callEnded">;
  /** Aborted once the server closes: a session that opens later gets GOAWAY at once. */
  readonly shutdownSignal: AbortSignal;
  readonly logger: Logger;
}

/**
 * How much a client may send on one connection before the bridge acknowledges it (the
 * HTTP/2 connection window, 65,535 bytes unless raised). All users' TTS share one
 * connection from the cloud: at 10 users (480 kB/s) the default is 130 ms of audio, so
 * one event-loop stall of the bridge longer than that holds every user's audio back at
 * the cloud, and catching up takes one window per round trip. 8 MiB is 17 s of that load;
 * each stream keeps its own 65,535-byte window, so one user's playback backpressure still
 * reaches its sender within ~1.3 s of TTS, and the process's HTTP/2 memory stays bounded
 * by nghttp2's maxSessionMemory.
 */
export const CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

/** Creates the HTTP/2 server the sniffed h2c sockets are handed to. */
export function createH2cSessions(options: H2cSessionsOptions): H2cSessions {
  const { sessions, throttle, guard } = options;
  const sessionOf = new Map<net.Socket, http2.ServerHttp2Session>();
  const server = http2.createServer(
    { settings: { maxConcurrentStreams: options.maxConcurrentStreams } },
    options.handler,
  );
  // The socket being handed to the HTTP/2 server: its "session" event comes synchronously,
  // and session.socket is a proxy, not the socket the guards know.
  let handingOver: net.Socket | undefined;
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    } catch (error) {
      // Only a destroyed session or no memory throws: the default window then stands.
      options.logger.debug("HTTP/2 window not raised", { error: String(error) });
    }
    const socket = handingOver;
    if (socket !== undefined) sessionOf.set(socket, session);
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      if (socket !== undefined) guard.callStarted(socket);
      throttle.streamOpened(session);
      stream.once("close", () => {
        if (socket !== undefined) guard.callEnded(socket);
        throttle.streamClosed(session);
      });
    });
    throttle.sessionOpened(session);
    session.once("close", () => {
      sessions.delete(session);
      if (socket !== undefined) sessionOf.delete(socket);
    });
    if (options.shutdownSignal.aborted) session.close();
  });
  server.on("sessionError", (error: Error) => {
    options.logger.debug("HTTP/2 session error", { error: error.message });
  });
  return {
    accept(socket) {
      handingOver = socket;
      try {
        server.emit("connection", socket);
      } finally {
        handingOver = undefined;
      }
    },
    sessionOf: (socket) => sessionOf.get(socket),
    drain() {
      for (const session of sessions) session.close();
    },
  };
}
