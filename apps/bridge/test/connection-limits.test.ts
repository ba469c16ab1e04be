import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { afterEach, describe, expect, it } from "vitest";
import type { CallRefusal } from "../src/call-guard.js";
import type { ConnectionCloseReason } from "../src/connection-guard.js";
import { defaultMaxConnections } from "../src/connection-guard.js";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "../src/server.js";
import { startApp } from "./support/app.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { openSilentStreamAudio, PREFACE } from "./support/raw-h2.mjs";
import { tcpAddress } from "./support/tools.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Checks `done` every 20 ms until it holds or `withinMs` has passed; the caller asserts. */
async function until(done: () => boolean, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!done() && performance.now() < deadline) await sleep(20);
}

const grpcClient = (baseUrl: string) =>
  createClient(LiveKitBridge, createGrpcTransport({ baseUrl }));

interface Observed {
  closed: ConnectionCloseReason[];
  refused: CallRefusal[];
}

async function startServer(overrides: Partial<BridgeServerOptions>) {
  const observed: Observed = { closed: [], refused: [] };
  const server = createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    routes: (shutdownSignal) =>
      createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
    observer: {
      connectionClosed: (reason) => observed.closed.push(reason),
      callRefused: (reason) => observed.refused.push(reason),
    },
    ...overrides,
  });
  const address = tcpAddress(await server.listen());
  return { server, address, observed };
}

/** `start` for the tests of one describe: each test's server is closed after it. */
function startPerTest() {
  let server: BridgeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  return async (overrides: Partial<BridgeServerOptions>) => {
    const started = await startServer(overrides);
    server = started.server;
    return started;
  };
}

/** A raw connection that sends `bytes` and then nothing; resolves its close time. */
function silentConnection(port: number, bytes: string | Buffer) {
  const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
  socket.on("error", () => {});
  // Reading, so the end of the connection is seen.
  socket.resume();
  const opened = performance.now();
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => resolve(performance.now() - opened)),
  );
  return { socket, closed };
}

describe("connections that never complete a request, and the connection limit", () => {
  const start = startPerTest();

  it("closes a connection that sends the HTTP/2 preface and nothing else after FIRST_REQUEST_TIMEOUT_MS", async () => {
    const started = await start({ firstRequestTimeoutMs: 300 });
    const h2 = silentConnection(started.address.port, PREFACE);
    // HTTP/1.1 headers that never end (slowloris).
    const h1 = silentConnection(started.address.port, "POST / HTTP/1.1\r\nhost: x\r\n");
    const [h2Ms, h1Ms] = await Promise.all([h2.closed, h1.closed]);

    // HTTP/2 gets GOAWAY first, and is cut a second later if the peer does not close.
    expect(h2Ms).toBeGreaterThanOrEqual(290);
    expect(h2Ms).toBeLessThan(2500);
    expect(h1Ms).toBeGreaterThanOrEqual(290);
    expect(h1Ms).toBeLessThan(1500);
    expect(started.observed.closed).toEqual(["first_request_timeout", "first_request_timeout"]);
    await until(() => started.server.connections === 0, 1500);
    expect(started.server.connections).toBe(0);
  });

  it("keeps a connection that is serving a call, and closes it once idle for IDLE_CONNECTION_TIMEOUT_MS", async () => {
    const started = await start({ firstRequestTimeoutMs: 200, idleConnectionTimeoutMs: 1000 });
    // A connection that sends its preface and SETTINGS, never a request.
    const silent = http2.connect(started.address.url);
    silent.on("error", () => {});
    const client = grpcClient(started.address.url);
    expect((await client.healthCheck({})).status).toBe(1);
    // Past the first-request timeout the serving connection is still there, and serves again.
    await sleep(400);
    expect(started.server.connections).toBe(1);
    expect((await client.healthCheck({})).status).toBe(1);
    const idleSince = performance.now();
    await until(() => started.server.connections === 0, 3000);
    const idleMs = performance.now() - idleSince;
    expect(started.server.connections).toBe(0);
    expect(idleMs).toBeGreaterThan(900);
    expect(idleMs).toBeLessThan(2000);
    silent.destroy();
    expect(started.observed.closed).toContain("idle_timeout");
    expect(started.observed.closed).toContain("first_request_timeout");
  });

  it("past MAX_CONNECTIONS evicts the connection that never completed a request, so a new caller is served", async () => {
    const started = await start({ maxConnections: 20, firstRequestTimeoutMs: 60_000 });
    const attackers = Array.from({ length: 40 }, () =>
      silentConnection(started.address.port, PREFACE),
    );
    await sleep(300);
    expect(started.server.connections).toBeLessThanOrEqual(20);
    const client = createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: started.address.url, httpVersion: "1.1" }),
    );
    const t0 = performance.now();
    expect((await client.healthCheck({})).status).toBe(1);
    const healthMs = performance.now() - t0;
    expect(healthMs).toBeLessThan(1000);
    const evicted = started.observed.closed.filter((reason) => reason === "evicted").length;
    expect(evicted).toBeGreaterThanOrEqual(20);
    for (const attacker of attackers) attacker.socket.destroy();
  });

  it("derives the default limit from the descriptor limit: a quarter, at most 1000", () => {
    expect(defaultMaxConnections(1024)).toBe(256);
    expect(defaultMaxConnections(1_048_576)).toBe(1000);
    expect(defaultMaxConnections(100)).toBe(25);
  });
});

describe("calls: MAX_CALLS and the first-message deadline", () => {
  const start = startPerTest();

  it("ends a call whose request never starts with DeadlineExceeded, in every protocol", async () => {
    const started = await start({ firstMessageTimeoutMs: 300 });
    const never = async function* () {
      await sleep(5_000);
      yield { userId: "u1" };
    };
    for (const transport of [
      createGrpcTransport({ baseUrl: started.address.url }),
      createConnectTransport({ baseUrl: started.address.url, httpVersion: "2" }),
    ]) {
      const client = createClient(LiveKitBridge, transport);
      const t0 = performance.now();
      const error = await (async () => {
        try {
          for await (const _ of client.streamAudio(never())) {
            // nothing comes
          }
          return undefined;
        } catch (caught) {
          return ConnectError.from(caught);
        }
      })();
      const ms = performance.now() - t0;
      expect(error?.code).toBe(Code.DeadlineExceeded);
      expect(error?.rawMessage).toMatch(/FIRST_MESSAGE_TIMEOUT_MS/);
      expect(ms).toBeGreaterThanOrEqual(280);
      expect(ms).toBeLessThan(2000);
    }
    expect(started.observed.refused).toEqual(["first_message_timeout", "first_message_timeout"]);
    await until(() => started.server.calls === 0, 1000);
    expect(started.server.calls).toBe(0);
  });

  it("refuses calls past MAX_CALLS with ResourceExhausted, keeping a reserve for HealthCheck", async () => {
    // 20 calls, 2 of them kept for health checks: 18 silent streams fill the rest.
    const started = await start({ maxCalls: 20, firstMessageTimeoutMs: 60_000 });
    const session = http2.connect(started.address.url);
    session.on("error", () => {});
    const statuses: string[] = [];
    let refusedStreams = 0;
    const streams = Array.from({ length: 25 }, () => {
      const stream = openSilentStreamAudio(session);
      stream.on("response", (headers) => statuses.push(String(headers["grpc-status"])));
      stream.on("close", () => {
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) refusedStreams += 1;
      });
      return stream;
    });
    await until(() => statuses.length + refusedStreams >= 7, 3000);
    // The first past the limit is answered ResourceExhausted; by then the connection has
    // been told (SETTINGS) to open no more, and HTTP/2 itself refuses the rest.
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses).toEqual(Array(statuses.length).fill(String(Code.ResourceExhausted)));
    expect(statuses.length + refusedStreams).toBe(7);
    expect(started.server.calls).toBe(18);
    const client = grpcClient(started.address.url);
    expect((await client.healthCheck({})).status).toBe(1);
    const joined = await client.joinRoom({ userId: "u1", roomName: "r" }).catch(ConnectError.from);
    expect(joined instanceof ConnectError ? joined.code : "answered").toBe(Code.ResourceExhausted);
    expect(started.observed.refused.filter((r) => r === "max_calls")).toHaveLength(
      statuses.length + 1,
    );
    for (const stream of streams) stream.close();
    session.destroy();
  });
});

describe("the limits in /metrics, as the bridge app wires them", () => {
  it("shows open connections and calls, and counts refusals and closes by reason", async () => {
    const { app, url } = await startApp({
      env: { MAX_CALLS: "20", FIRST_MESSAGE_TIMEOUT_MS: "300", FIRST_REQUEST_TIMEOUT_MS: "300" },
    });
    try {
      const scrape = async () => (await fetch(`${url}/metrics`)).text();
      const value = (text: string, series: string) =>
        Number(
          text
            .split("\n")
            .find((line) => line.startsWith(`${series} `))
            ?.split(" ")[1] ?? Number.NaN,
        );
      const session = http2.connect(url);
      session.on("error", () => {});
      const stream = openSilentStreamAudio(session);
      const status = new Promise<string>((resolve) =>
        stream.on("response", (headers) => resolve(String(headers["grpc-status"]))),
      );
      const silent = silentConnection(app.server.address?.port ?? 0, PREFACE);
      await sleep(100);
      const during = await scrape();
      // The silent stream, and the scrape itself.
      expect(value(during, "bridge_calls")).toBe(2);
      // The stream's connection, the silent one, and the scrape's.
      expect(value(during, "bridge_connections")).toBe(3);
      expect(await status).toBe(String(Code.DeadlineExceeded));
      await silent.closed;
      await sleep(50);
      const after = await scrape();
      expect(value(after, 'bridge_calls_refused_total{reason="first_message_timeout"}')).toBe(1);
      expect(
        value(after, 'bridge_connections_closed_total{reason="first_request_timeout"}'),
      ).toBeGreaterThanOrEqual(1);
      expect(after).toContain("# TYPE bridge_accept_errors_total counter");
      session.destroy();
    } finally {
      await app.close();
    }
  });
});
