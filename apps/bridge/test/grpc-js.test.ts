import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { type BridgeServer, createBridgeServer } from "../src/server.js";
import { type AnyClient, clientOf, unary } from "./support/deployed-client.js";
import { offlineRoutes } from "./support/offline-routes.js";

describe("the grpc-js client with proto-loader (keepCase), as the deployed cloud calls", () => {
  let server: BridgeServer;
  let bridge: AnyClient;
  let health: AnyClient;

  beforeAll(async () => {
    server = createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      shutdownTimeoutMs: 5_000,
      routes: (shutdownSignal) =>
        createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
    });
    const { port } = await server.listen();
    const target = `127.0.0.1:${port}`;
    bridge = clientOf(
      "mentra/livekit/bridge/bridge.proto",
      "mentra.livekit.bridge.LiveKitBridge",
      target,
    );
    health = clientOf("grpc/health/v1/health.proto", "grpc.health.v1.Health", target);
  });

  afterAll(async () => {
    bridge?.close();
    health?.close();
    await server?.close();
  });

  it("calls HealthCheck and reads snake_case fields", async () => {
    const response = await unary<Record<string, unknown>>(bridge, "HealthCheck", {});
    expect(response).toMatchObject({
      status: "SERVING",
      active_sessions: 0,
      active_streams: 0,
      metadata: { node_version: process.version },
    });
  });

  it("gets INVALID_ARGUMENT for a JoinRoom without room_name", async () => {
    const error = await unary(bridge, "JoinRoom", { user_id: "u1" }).catch((e) => e);
    expect(error).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "room_name is required",
    });
  });

  it("opens StreamAudio (bidi) and gets FAILED_PRECONDITION without a session", async () => {
    const call = bridge.StreamAudio({ deadline: Date.now() + 5_000 }) as grpc.ClientDuplexStream<
      object,
      object
    >;
    const ended = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => {});
    call.write({ user_id: "nobody", sample_rate: 16000 });
    const error = await ended;
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe("no session for user nobody: call JoinRoom first");
  });

  it("checks grpc.health.v1.Health", async () => {
    expect(await unary(health, "Check", { service: "" })).toEqual({ status: "SERVING" });
    const unknown = await unary(health, "Check", { service: "x.Y" }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(unknown?.code).toBe(grpc.status.NOT_FOUND);
  });
});
