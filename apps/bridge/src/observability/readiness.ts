/** One readiness check's answer, as /readyz shows it. */
export interface ReadinessReport {
  /** True when every check passed. */
  readonly ready: boolean;
  readonly checks: {
    readonly listening: boolean;
    readonly draining: boolean;
    /** Whether LiveKit answered over HTTP within the timeout (cached briefly). */
    readonly livekit: boolean;
  };
  /** Why LiveKit did not count as reachable, when it did not. */
  readonly livekitError?: string;
}

/** Options of {@link createReadiness}. */
export interface ReadinessOptions {
  /** LiveKit's URL (ws:// or http://, wss:// or https://); probed over HTTP(S). */
  readonly livekitUrl: string;
  /** Whether the server's port is bound. */
  readonly listening: () => boolean;
  /** True once the bridge drains. */
  readonly isDraining: () => boolean;
  /** How long one probe of LiveKit may take; default 1000. */
  readonly probeTimeoutMs?: number;
  /** How long a probe's answer is reused; default 2000. */
  readonly cacheMs?: number;
  /** Replaces fetch, for tests. */
  readonly fetch?: typeof fetch;
}

/** Answers "is the bridge ready for traffic?" for /readyz. */
export interface Readiness {
  check(): Promise<ReadinessReport>;
}

/** The HTTP URL of a LiveKit server given by its ws(s):// or http(s):// URL. */
export function livekitHttpUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  if (parsed.protocol === "wss:") parsed.protocol = "https:";
  parsed.pathname = "/";
  parsed.search = "";
  return parsed.toString();
}

/**
 * Creates the readiness check: ready while listening, not draining, and LiveKit answers
 * any HTTP status at its root within `probeTimeoutMs`. Concurrent checks share one probe,
 * and an answer is reused for `cacheMs`, so a busy prober does not load LiveKit.
 */
export function createReadiness(options: ReadinessOptions): Readiness {
  const probeTimeoutMs = options.probeTimeoutMs ?? 1_000;
  const cacheMs = options.cacheMs ?? 2_000;
  const doFetch = options.fetch ?? fetch;
  const target = livekitHttpUrl(options.livekitUrl);
  let cached: { at: number; probe: Promise<string | undefined> } | undefined;

  async function probe(): Promise<string | undefined> {
    try {
      const response = await doFetch(target, {
        signal: AbortSignal.timeout(probeTimeoutMs),
        redirect: "manual",
      });
      await response.body?.cancel();
      return undefined;
    } catch (error) {
      // undici hides the socket error in `cause`; its code (ECONNREFUSED…) says most.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code !== undefined) return cause.code;
      if (error instanceof Error && error.name === "TimeoutError") {
        return `no answer within ${probeTimeoutMs} ms`;
      }
      return cause?.message ?? (error instanceof Error ? error.message : String(error));
    }
  }

  return {
    async check() {
      const now = performance.now();
      if (cached === undefined || now - cached.at > cacheMs) {
        cached = { at: now, probe: probe() };
      }
      const livekitError = await cached.probe;
      const checks = {
        listening: options.listening(),
        draining: options.isDraining(),
        livekit: livekitError === undefined,
      };
      return {
        ready: checks.listening && !checks.draining && checks.livekit,
        checks,
        ...(livekitError === undefined ? {} : { livekitError }),
      };
    },
  };
}
