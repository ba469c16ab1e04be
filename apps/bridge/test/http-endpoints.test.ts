import * as http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { afterEach, describe, expect, it } from "vitest";
import type { BridgeApp } from "../src/app.js";
import { type FakeLiveKit, startApp, startFakeLiveKit } from "./support/app.js";

/** GET over HTTP/2 cleartext (prior knowledge), as an h2 prober would. */
function h2Get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({ ":path": path, ":method": "GET" });
    let status = 0;
    let body = "";
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
    req.end();
  });
}

/** The value of one sample line of a Prometheus exposition, e.g. `name{a="b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/healthz, /readyz and /metrics on the RPC port", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(livekit?: FakeLiveKit): Promise<{ app: BridgeApp; url: string }> {
    const started = await startApp(livekit === undefined ? {} : { livekitUrl: livekit.url });
    cleanups.push(() => started.app.close());
    return started;
  }

  it("answers /healthz over HTTP/1.1 and HTTP/2, and 404 elsewhere", async () => {
    const { url } = await start();
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok\n");
    expect(await h2Get(url, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("is ready while LiveKit answers, caching the probe, and unready while draining", async () => {
    const livekit = await startFakeLiveKit();
    cleanups.push(() => livekit.close());
    const { app, url } = await start(livekit);
    const first = await fetch(`${url}/readyz`);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      ready: true,
      checks: { listening: true, draining: false, livekit: true },
    });
    expect((await h2Get(url, "/readyz")).status).toBe(200);
    // Both answers came from one probe (cached for 2 s).
    expect(livekit.requests()).toBe(1);

    app.server.drain();
    const draining = await fetch(`${url}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ ready: false, checks: { draining: true } });
    // Liveness is not readiness: the process still answers.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("is not ready when LiveKit does not answer, and says why", async () => {
    const { url } = await start();
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      ready: false,
      checks: { listening: true, draining: false, livekit: false },
      livekitError: "ECONNREFUSED",
    });
  });

  it("counts RPCs by method and code, audio bytes, and process figures", async () => {
    const { url } = await start();
    const connect = createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    );
    await connect.healthCheck({});
    await connect.healthCheck({});
    await connect.joinRoom({ userId: "u1" }).catch(() => {});
    const grpc = createClient(LiveKitBridge, createGrpcTransport({ baseUrl: url }));
    async function* oneChunk() {
      yield { userId: "nobody", sampleRate: 16000, pcmData: new Uint8Array(640) };
    }
    const failed = await (async () => {
      for await (const _ of grpc.streamAudio(oneChunk())) {
        // none expected
      }
    })().catch(ConnectError.from);
    expect(failed?.code).toBe(Code.FailedPrecondition);

    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    const rpc = (method: string, code: string) =>
      `{service="mentra.livekit.bridge.LiveKitBridge",method="${method}",code="${code}"}`;
    expect(sample(text, `bridge_rpcs_total${rpc("HealthCheck", "OK")}`)).toBe(2);
    expect(sample(text, `bridge_rpcs_total${rpc("JoinRoom", "InvalidArgument")}`)).toBe(1);
    expect(sample(text, `bridge_rpcs_total${rpc("StreamAudio", "FailedPrecondition")}`)).toBe(1);
    expect(sample(text, `bridge_rpc_duration_seconds_count${rpc("HealthCheck", "OK")}`)).toBe(2);
    expect(sample(text, 'bridge_audio_bytes_total{direction="to_room"}')).toBe(640);
    expect(sample(text, 'bridge_audio_chunks_total{direction="to_room"}')).toBe(1);
    expect(sample(text, "bridge_sessions")).toBe(0);
    expect(sample(text, "bridge_streams")).toBe(0);
    expect(sample(text, 'bridge_device_packets_total{fate="invalid"}')).toBe(0);
    expect(sample(text, "bridge_device_loss_filled_seconds_total")).toBe(0);
    const native = sample(text, "bridge_process_native_memory_bytes") ?? 0;
    const rss = sample(text, "process_resident_memory_bytes") ?? 0;
    expect(native).toBeGreaterThan(1_000_000);
    expect(native).toBeLessThan(rss);
  });

  it("announces MAX_STREAMS_PER_CONNECTION in its HTTP/2 settings", async () => {
    const started = await startApp({ env: { MAX_STREAMS_PER_CONNECTION: "7" } });
    cleanups.push(() => started.app.close());
    const session = http2.connect(started.url);
    cleanups.push(() => void session.destroy());
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(7);
  });
});
