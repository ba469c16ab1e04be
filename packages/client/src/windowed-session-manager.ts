import type * as http2 from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";

/**
 * How much the bridge may send on the client's one connection before the client
 * acknowledges it (the HTTP/2 connection window, 65,535 bytes unless raised). Every
 * session of a client shares that connection: at 10 users (~340 kB/s of room audio) the
 * default is 190 ms, so one event-loop stall of the client longer than that holds every
 * user's audio back inside the bridge, where its queue fills and drops. Each stream keeps
 * its own default window, so a session nobody reads still stops at 65,535 bytes.
 */
export const RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Whether this runtime raises the window for real. Bun (1.3) does not: its
 * `setLocalWindowSize` changes only its own bookkeeping and sends no WINDOW_UPDATE, so
 * the server still sees 65,535 bytes, while Bun now waits for megabytes to arrive before
 * it acknowledges any: every stream of the connection stops after its first 64 KiB
 * (measured: a 1 MiB body stops at 65,535 bytes). Under Bun the window is left alone and
 * Bun's own acknowledgements keep the data flowing.
 */
export const RAISES_RECEIVE_WINDOW = typeof process.versions.bun !== "string";

/**
 * connect-node's session manager, raising the connection window of each HTTP/2 session
 * it opens (on Node; see {@link RAISES_RECEIVE_WINDOW}) (on its first stream: connect-node does not hand out the session earlier),
 * and keeping an "error" listener on each for as long as the session lives.
 *
 * connect-node (2.1) removes its own listener once a session errors or leaves its state,
 * but a keepalive PING already in flight can still destroy the session with "PING timed
 * out" when its late answer comes; with no listener left, Node throws that as an uncaught
 * exception and the cloud's process dies (seen under load in the scale-out e2e, four
 * times in one run). The error itself already reached connect-node's streams, or nobody
 * uses the session any more, so it is only swallowed here.
 */
export class WindowedSessionManager extends Http2SessionManager {
  private readonly raised = new WeakSet<http2.Http2Session>();

  override async request(
    ...args: Parameters<Http2SessionManager["request"]>
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session !== undefined && !this.raised.has(session)) {
      this.raised.add(session);
      session.on("error", ignoreLateSessionError);
      if (!RAISES_RECEIVE_WINDOW) return stream;
      try {
        session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
      } catch {
        // Only a destroyed session or no memory throws: the default window then stands.
      }
    }
    return stream;
  }
}

/** See {@link WindowedSessionManager}: what a session reports after connect-node let go of it. */
function ignoreLateSessionError(): void {}
