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
 * connect-node's session manager, raising the connection window of each HTTP/2 session
 * it opens (on its first stream: connect-node does not hand out the session earlier).
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
      try {
        session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
      } catch {
        // Only a destroyed session or no memory throws: the default window then stands.
      }
    }
    return stream;
  }
}
