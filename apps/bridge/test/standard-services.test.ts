import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { grpcHealthV1, grpcReflectionV1 } from "@mentra/bridge-proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { type BridgeServer, createBridgeServer } from "../src/server.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { runReadmeCommand, tcpAddress } from "./support/tools.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;

function newServer(): BridgeServer {
  return createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    shutdownTimeoutMs: 5_000,
    routes: (shutdownSignal) =>
      createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
  });
}

describe("grpc.health.v1.Health", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start() {
    const server = newServer();
    const { url } = tcpAddress(await server.listen());
    const sessionManager = new Http2SessionManager(url);
    cleanups.push(
      () => server.close(),
      () => sessionManager.abort(),
    );
    const client = createClient(Health, createGrpcTransport({ baseUrl: url, sessionManager }));
    return { server, client };
  }

  it("answers SERVING for the server and for each service, NotFound for others", async () => {
    const { client } = await start();
    expect((await client.check({})).status).toBe(Status.SERVING);
    expect((await client.check({ service: "mentra.livekit.bridge.LiveKitBridge" })).status).toBe(
      Status.SERVING,
    );
    expect((await client.check({ service: "grpc.health.v1.Health" })).status).toBe(Status.SERVING);
    const error = await client.check({ service: "no.such.Service" }).catch(ConnectError.from);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("lists every service with its status", async () => {
    const { client } = await start();
    const { statuses } = await client.list({});
    expect(Object.keys(statuses).sort()).toEqual([
      "",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "mentra.livekit.bridge.LiveKitBridge",
    ]);
    expect(Object.values(statuses).map((s) => s.status)).toEqual(Array(5).fill(Status.SERVING));
  });

  it("Watch sends SERVING, then NOT_SERVING when draining starts, then ends", async () => {
    const { server, client } = await start();
    const seen: grpcHealthV1.HealthCheckResponse_ServingStatus[] = [];
    const watching = (async () => {
      for await (const response of client.watch({ service: "" })) {
        seen.push(response.status);
        if (seen.length === 1) void server.close();
      }
    })();
    const started = Date.now();
    await watching;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
    await server.close();
    // The watcher did not hold the drain up until shutdownTimeoutMs (5 s).
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("Watch ends with DEADLINE_EXCEEDED (not OK) when the caller's grpc-timeout passes", async () => {
    // Raw HTTP/2, so that only the server's deadline is at work (grpcurl -max-time relies on it).
    const { server } = await start();
    const session = http2.connect(server.address?.url ?? "");
    cleanups.push(() => session.close());
    const request = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Watch",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "300m",
    });
    let messages = 0;
    request.on("data", () => messages++);
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) =>
      request.on("trailers", resolve),
    );
    request.end(Buffer.from([0, 0, 0, 0, 0])); // an empty HealthCheckRequest
    const started = Date.now();
    const ended = await trailers;
    expect(messages).toBeGreaterThan(0);
    expect(ended["grpc-status"]).toBe(String(Code.DeadlineExceeded));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("Watch reports SERVICE_UNKNOWN for a service the bridge lacks", async () => {
    const { client } = await start();
    const seen: grpcHealthV1.HealthCheckResponse_ServingStatus[] = [];
    for await (const response of client.watch({ service: "no.such.Service" })) {
      seen.push(response.status);
      break;
    }
    expect(seen).toEqual([Status.SERVICE_UNKNOWN]);
  }, 5_000);
});

describe("server reflection with the real tools, no proto files", () => {
  let server: BridgeServer;
  let target: string;

  beforeAll(async () => {
    server = newServer();
    const { port } = await server.listen();
    target = `127.0.0.1:${port}`;
  });
  afterAll(() => server.close());

  it("grpcurl list shows our service, health and both reflection versions", async () => {
    const result = await runReadmeCommand("grpcurl -plaintext localhost:9090 list", target);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.trim().split("\n")).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "mentra.livekit.bridge.LiveKitBridge",
    ]);
  });

  it("grpcurl describes a service and a message", async () => {
    const service = await runReadmeCommand(
      "grpcurl -plaintext localhost:9090 describe mentra.livekit.bridge.LiveKitBridge",
      target,
    );
    expect(service.code).toBe(0);
    expect(service.stdout).toContain(
      "rpc StreamAudio ( stream .mentra.livekit.bridge.AudioChunk ) returns ( stream .mentra.livekit.bridge.AudioChunk );",
    );
    const message = await runReadmeCommand(
      "grpcurl -plaintext localhost:9090 describe mentra.livekit.bridge.JoinRoomRequest",
      target,
    );
    expect(message.stdout).toContain("string room_name = 2;");
    const method = await runReadmeCommand(
      "grpcurl -plaintext localhost:9090 describe mentra.livekit.bridge.LiveKitBridge.JoinRoom",
      target,
    );
    expect(method.stdout).toContain("is a method");
    const missing = await runReadmeCommand(
      "grpcurl -plaintext localhost:9090 describe no.such.Thing",
      target,
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("Symbol not found");
  });

  it("buf curl speaks Connect over HTTP/2 with reflection and over HTTP/1.1 with --schema", async () => {
    const h2 = await runReadmeCommand(
      "buf curl -v http://localhost:9090/mentra.livekit.bridge.LiveKitBridge/HealthCheck",
      target,
    );
    expect(h2.stderr).toContain("POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    expect(h2.stderr).toContain("< (#2) HTTP/2.0 200 OK");
    expect(JSON.parse(h2.stdout)).toMatchObject({ status: "SERVING" });
    const h1 = await runReadmeCommand(
      "buf curl -v --schema . http://localhost:9090/mentra.livekit.bridge.LiveKitBridge/HealthCheck",
      target,
    );
    expect(h1.stderr).toContain("< (#1) HTTP/1.1 200 OK");
    expect(h1.stderr).not.toContain("ServerReflection");
    expect(JSON.parse(h1.stdout)).toMatchObject({ status: "SERVING" });
  });

  it("buf curl resolves the schema over reflection v1alpha too", async () => {
    const result = await runReadmeCommand(
      "buf curl -v --reflect-protocol grpc-v1alpha http://localhost:9090/grpc.health.v1.Health/Check",
      target,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("POST /grpc.reflection.v1alpha.ServerReflection/");
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});

describe("compression", () => {
  /** One gRPC call over raw HTTP/2: the response's grpc-encoding and each message's compressed flag. */
  async function rawReflection(url: string, requestEncoding: "identity" | "gzip") {
    const request = toBinary(
      grpcReflectionV1.ServerReflectionRequestSchema,
      create(grpcReflectionV1.ServerReflectionRequestSchema, {
        messageRequest: {
          case: "fileContainingSymbol",
          value: "mentra.livekit.bridge.LiveKitBridge",
        },
      }),
    );
    const payload = requestEncoding === "gzip" ? gzipSync(request) : request;
    const frame = Buffer.alloc(5 + payload.length);
    frame[0] = requestEncoding === "gzip" ? 1 : 0;
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    const session = http2.connect(url);
    try {
      return await new Promise<{ encoding: unknown; flags: number[]; bytes: number }>(
        (resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "content-type": "application/grpc",
            te: "trailers",
            "grpc-encoding": requestEncoding,
            "grpc-accept-encoding": "gzip",
          });
          let encoding: unknown;
          const chunks: Buffer[] = [];
          stream.on("response", (headers) => {
            encoding = headers["grpc-encoding"];
          });
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("error", reject);
          stream.on("end", () => {
            const body = Buffer.concat(chunks);
            const flags: number[] = [];
            for (let at = 0; at + 5 <= body.length; at += 5 + body.readUInt32BE(at + 1)) {
              flags.push(body[at] ?? -1);
            }
            resolve({ encoding, flags, bytes: body.length });
          });
          stream.end(frame);
        },
      );
    } finally {
      session.close();
    }
  }

  it("never compresses a response, even a large one to a client that accepts gzip; gzip requests still work", async () => {
    const server = newServer();
    const { url } = tcpAddress(await server.listen());
    try {
      for (const requestEncoding of ["identity", "gzip"] as const) {
        const { flags, bytes } = await rawReflection(url, requestEncoding);
        // The whole schema: large enough that gzip would have been used (the default
        // threshold is 1 kB), and every message is sent with its compressed flag clear.
        expect(bytes).toBeGreaterThan(4_096);
        expect(flags).toEqual([0]);
      }
    } finally {
      await server.close();
    }
  });
});
