import * as http2 from "node:http2";

/** The path of the bridge's HealthCheck. */
export const HEALTH_PATH = "/mentra.livekit.bridge.LiveKitBridge/HealthCheck";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** HealthCheck over a brand-new HTTP/2 connection (Connect JSON); its time in ms. */
export async function probe(port: number, timeoutMs = 2000): Promise<number> {
  const started = performance.now();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer")), timeoutMs);
      session.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      const req = session.request({
        ":method": "POST",
        ":path": HEALTH_PATH,
        "content-type": "application/json",
      });
      req.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => {
        clearTimeout(timer);
        if (body.includes('"SERVING"')) resolve(performance.now() - started);
        else reject(new Error(`HealthCheck answered ${body}`));
      });
      req.end("{}");
    });
  } finally {
    session.destroy();
  }
}

/** Probes on new connections every `everyMs` until `until()` is true; the times, and the failures. */
export async function probeWhile(port: number, everyMs: number, until: () => boolean) {
  const times: number[] = [];
  const failures: string[] = [];
  while (!until()) {
    await probe(port).then(
      (ms) => times.push(ms),
      (error: unknown) => failures.push(String(error)),
    );
    await sleep(everyMs);
  }
  return { times, failures };
}

/** The p-th percentile (nearest rank below) of `values`. */
export const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};
