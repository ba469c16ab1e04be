import type * as http2 from "node:http2";

/**
 * While the calls are at their limit, every HTTP/2 connection is told (SETTINGS) it may
 * open one stream more than it has: nghttp2 then refuses the rest (REFUSED_STREAM)
 * itself, which costs next to nothing, where answering each one ResourceExhausted costs
 * the event loop ~0.3 ms: 26,000 of them held an innocent user's audio for 2.7 s.
 */
export interface StreamThrottle {
  /** A new session: throttled at once while the calls are saturated. */
  sessionOpened(session: http2.ServerHttp2Session): void;
  /** A stream of `session` opened. */
  streamOpened(session: http2.ServerHttp2Session): void;
  /** A stream of `session` closed. */
  streamClosed(session: http2.ServerHttp2Session): void;
  /** The calls reached (true) or left (false) their limit: every open session is told. */
  setSaturated(saturated: boolean): void;
}

/** Options of {@link createStreamThrottle}. */
export interface StreamThrottleOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS when not throttled. */
  readonly maxConcurrentStreams: number;
  /** The open sessions (kept by their owner), told when the saturation changes. */
  readonly sessions: ReadonlySet<http2.ServerHttp2Session>;
}

/** Creates a {@link StreamThrottle}. */
export function createStreamThrottle(options: StreamThrottleOptions): StreamThrottle {
  const { maxConcurrentStreams } = options;
  const openStreams = new WeakMap<http2.ServerHttp2Session, number>();
  let throttled = false;
  function throttle(session: http2.ServerHttp2Session, on: boolean): void {
    if (session.destroyed || session.closed) return;
    const limit = on
      ? Math.min(maxConcurrentStreams, (openStreams.get(session) ?? 0) + 1)
      : maxConcurrentStreams;
    try {
      session.settings({ maxConcurrentStreams: limit });
    } catch {
      // Too many unacknowledged SETTINGS from a peer that never acks: the per-call limit stands.
    }
  }
  return {
    sessionOpened(session) {
      if (throttled) throttle(session, true);
    },
    streamOpened(session) {
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
    },
    streamClosed(session) {
      openStreams.set(session, (openStreams.get(session) ?? 1) - 1);
    },
    setSaturated(saturated) {
      throttled = saturated;
      for (const session of options.sessions) throttle(session, saturated);
    },
  };
}
