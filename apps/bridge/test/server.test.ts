import * as http from "node:http";
import * as net from "node:net";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { type BridgeServer, type BridgeServerOptions, createBridgeServer } from "../src/server.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { tcpAddress } from "./support/tools.js";

const HEALTH_PATH = "/mentra.livekit.bridge.LiveKitBridge/HealthCheck";

function newServer(overrides: Partial<BridgeServerOptions> = {}): BridgeServer {
  return createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    routes: (shutdownSignal) =>
      createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
    ...overrides,
  });
}

/** Sends raw bytes, collects everything the server answers until it closes the socket. */
function rawExchange(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(received).toString("latin1")));
  });
}

describe("one port, every protocol", () => {
  let server: BridgeServer;
  let address: ReturnType<typeof tcpAddress>;
  const sessionManagers: Http2SessionManager[] = [];

  /** A transport over HTTP/2 (h2c); gRPC always is, the others are told so. */
  function h2Transport(protocol: "grpc" | "connect" | "grpc-web"): Transport {
    const sessionManager = new Http2SessionManager(address.url);
    sessionManagers.push(sessionManager);
    const baseUrl = address.url;
    if (protocol === "grpc") return createGrpcTransport({ baseUrl, sessionManager });
    const create = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
    return create({ baseUrl, httpVersion: "2", sessionManager });
  }

  beforeAll(async () => {
    server = newServer();
    address = tcpAddress(await server.listen());
  });

  afterAll(async () => {
    for (const manager of sessionManagers) manager.abort();
    await server.close();
  });

  it("listens on an ephemeral port and reports it", () => {
    expect(address.port).toBeGreaterThan(0);
    expect(address.url).toBe(`http://127.0.0.1:${address.port}`);
    expect(server.address).toEqual({ host: "127.0.0.1", ...address });
  });

  it.each([
    ["gRPC over HTTP/2", () => h2Transport("grpc")],
    ["Connect over HTTP/2", () => h2Transport("connect")],
    ["gRPC-Web over HTTP/2", () => h2Transport("grpc-web")],
    [
      "Connect over HTTP/1.1",
      () => createConnectTransport({ baseUrl: address.url, httpVersion: "1.1" }),
    ],
    [
      "gRPC-Web over HTTP/1.1",
      () => createGrpcWebTransport({ baseUrl: address.url, httpVersion: "1.1" }),
    ],
  ])("answers HealthCheck with SERVING over %s", async (_name, transport) => {
    const client = createClient(LiveKitBridge, transport());
    const response = await client.healthCheck({});
    expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(response.metadata.node_version).toBe(process.version);
  });

  it("answers a plain JSON POST (curl) over HTTP/1.1", async () => {
    const response = await fetch(`${address.url}${HEALTH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const text = await response.text();
    expect(text).toContain('"status":"SERVING"');
    expect(JSON.parse(text)).toMatchObject({ metadata: { node_version: process.version } });
  });

  it("carries a bidirectional stream over gRPC and maps its error code", async () => {
    const client = createClient(LiveKitBridge, h2Transport("grpc"));
    async function* chunks() {
      yield { userId: "u1", sampleRate: 16000 };
    }
    const error = await (async () => {
      try {
        for await (const _chunk of client.streamAudio(chunks())) {
          // none expected
        }
      } catch (e) {
        return ConnectError.from(e);
      }
      return undefined;
    })();
    expect(error?.code).toBe(Code.FailedPrecondition);
    expect(error?.rawMessage).toBe("no session for user u1: call JoinRoom first");
  });

  it("answers InvalidArgument for a JoinRoom without room over Connect HTTP/1.1", async () => {
    const client = createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: address.url, httpVersion: "1.1" }),
    );
    await expect(client.joinRoom({ userId: "u1" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "room_name is required",
    });
  });

  it("answers garbage with 400 and keeps serving", async () => {
    const answer = await rawExchange(address.port, "\x00\x01\x02 not http at all\r\n\r\n");
    expect(answer.startsWith("HTTP/1.1 400 Bad Request")).toBe(true);
    const response = await fetch(`${address.url}${HEALTH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(await response.text()).toContain('"status":"SERVING"');
  });

  it("survives garbage after the HTTP/2 preface, a half preface and an instant hang-up", async () => {
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    await rawExchange(address.port, Buffer.concat([Buffer.from(preface), Buffer.alloc(64, 0xff)]));
    await new Promise<void>((resolve) => {
      const socket = net.connect(address.port, "127.0.0.1", () => {
        socket.write(preface.slice(0, 10));
        socket.destroy();
      });
      socket.on("close", () => resolve());
    });
    await new Promise<void>((resolve) => {
      const socket = net.connect(address.port, "127.0.0.1", () => socket.resetAndDestroy());
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
    const client = createClient(LiveKitBridge, h2Transport("grpc"));
    expect((await client.healthCheck({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe("close()", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("is idempotent and frees the port", async () => {
    const server = newServer();
    const { port } = tcpAddress(await server.listen());
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    await server.close();
    expect(server.address).toBeUndefined();
    expect(server.shutdownSignal.aborted).toBe(true);
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it("resolves for a server that never listened", async () => {
    const server = newServer();
    await server.close();
    await expect(server.listen()).rejects.toThrow(/closed/);
  });

  it("does not wait for idle keep-alive connections (HTTP/2 and HTTP/1.1)", async () => {
    const server = newServer({ shutdownTimeoutMs: 30_000 });
    const { url } = tcpAddress(await server.listen());
    const sessionManager = new Http2SessionManager(url);
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(
      () => sessionManager.abort(),
      () => agent.destroy(),
    );
    const grpc = createClient(LiveKitBridge, createGrpcTransport({ baseUrl: url, sessionManager }));
    const connect = createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent } }),
    );
    await grpc.healthCheck({});
    await connect.healthCheck({});
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("lets a call in flight finish, reporting NOT_SERVING", async () => {
    const server = newServer({ shutdownTimeoutMs: 30_000 });
    const { port } = tcpAddress(await server.listen());
    const socket = net.connect(port, "127.0.0.1");
    cleanups.push(() => void socket.destroy());
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    const closedByServer = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(
      `POST ${HEALTH_PATH} HTTP/1.1\r\nhost: bridge\r\ncontent-type: application/json\r\n` +
        "content-length: 2\r\n\r\n",
    );
    // Let the server see the headers, so the call is open when the drain starts.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const closing = server.close();
    socket.write("{}");
    await closedByServer;
    await closing;
    expect(Date.now() - started).toBeLessThan(2_000);
    const answer = Buffer.concat(received).toString("utf8");
    expect(answer.startsWith("HTTP/1.1 200 OK")).toBe(true);
    expect(answer).toContain('"status":"NOT_SERVING"');
  });

  it("cuts calls that outlive shutdownTimeoutMs", async () => {
    const server = newServer({ shutdownTimeoutMs: 200 });
    const { port } = tcpAddress(await server.listen());
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    cleanups.push(() => void socket.destroy());
    const closedByServer = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    // Headers announce a body that never comes: the call stays open.
    socket.write(
      `POST ${HEALTH_PATH} HTTP/1.1\r\nhost: bridge\r\ncontent-type: application/json\r\n` +
        "content-length: 2\r\n\r\n",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await server.close();
    await closedByServer;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("drops a connection that stays silent past firstBytesTimeoutMs", async () => {
    const server = newServer({ firstBytesTimeoutMs: 150 });
    cleanups.push(() => server.close());
    const { port } = tcpAddress(await server.listen());
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("close", () => resolve());
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});
