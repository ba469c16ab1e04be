import { request as httpRequest } from "node:http";

/** One HealthCheck: its round trip and the bridge's event-loop delay since the last one. */
export interface HealthSample {
  readonly at: number;
  readonly ms: number;
  /** event_loop_delay_max_ms of the answer (since the previous HealthCheck). */
  readonly loopMaxMs: number;
}

/** HealthCheck over Connect JSON on a new TCP connection (no agent, no keep-alive). */
export function healthOnNewConnection(baseUrl: string): Promise<HealthSample> {
  const started = performance.now();
  const at = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}/mentra.livekit.bridge.LiveKitBridge/HealthCheck`,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (text: string) => {
          body += text;
        });
        res.on("end", () => {
          if (res.statusCode !== 200) {
            reject(new Error(`HealthCheck answered ${res.statusCode}`));
            return;
          }
          const ms = performance.now() - started;
          const parsed = JSON.parse(body) as { metadata?: Record<string, string> };
          resolve({ at, ms, loopMaxMs: Number(parsed.metadata?.event_loop_delay_max_ms ?? 0) });
        });
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error("HealthCheck timed out")));
    req.on("error", reject);
    req.end("{}");
  });
}

/** Quantiles of a list of numbers. */
export function quantiles(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** HealthCheck on a new connection every `everyMs` until stopped (bounded at `maxMs`). */
export function startHealthProbe(baseUrl: string, everyMs = 50, maxMs = 120_000) {
  const samples: HealthSample[] = [];
  let stop = false;
  const until = Date.now() + maxMs;
  const running = (async () => {
    while (!stop && Date.now() < until) {
      samples.push(await healthOnNewConnection(baseUrl));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await running;
      return { ...quantiles(samples.map((s) => s.ms)), samples };
    },
  };
}
