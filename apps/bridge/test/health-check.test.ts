import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";
import { describe, expect, it } from "vitest";
import { type BridgeStats, noSessionStats } from "../src/rpc/health-check.js";
import { type BridgeRoutesOptions, createBridgeRoutes } from "../src/rpc/routes.js";
import { BRIDGE_VERSION } from "../src/version.js";

function clientFor(options: BridgeRoutesOptions) {
  return createClient(LiveKitBridge, createRouterTransport(createBridgeRoutes(options)));
}

async function codeOf(call: () => Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await call();
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.rawMessage };
  }
  throw new Error("the call succeeded, expected an error");
}

describe("HealthCheck (in memory)", () => {
  it("answers SERVING with version and process figures", async () => {
    const response = await clientFor({ stats: noSessionStats }).healthCheck({});
    expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(response.activeSessions).toBe(0);
    expect(response.activeStreams).toBe(0);
    expect(response.metadata.version).toBe(BRIDGE_VERSION);
    expect(BRIDGE_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(response.metadata.node_version).toBe(process.version);
    expect(Number(response.metadata.rss_bytes)).toBeGreaterThan(1_000_000);
    expect(Number(response.metadata.heap_used_bytes)).toBeGreaterThan(100_000);
  });

  it("reports the counts of the stats it is given", async () => {
    const stats: BridgeStats = { activeSessions: () => 3, activeStreams: () => 5 };
    const response = await clientFor({ stats }).healthCheck({});
    expect([response.activeSessions, response.activeStreams]).toEqual([3, 5]);
  });

  it("counts uptime in whole seconds from the start time", async () => {
    let nowMs = 1_000_000;
    const client = clientFor({
      stats: noSessionStats,
      health: { startedAtMs: 1_000_000, now: () => nowMs },
    });
    expect((await client.healthCheck({})).uptimeSeconds).toBe(0n);
    nowMs += 2_999;
    expect((await client.healthCheck({})).uptimeSeconds).toBe(2n);
    nowMs += 90_001;
    expect((await client.healthCheck({})).uptimeSeconds).toBe(93n);
  });

  it("counts real uptime from the start of the process by default", async () => {
    const response = await clientFor({ stats: noSessionStats }).healthCheck({});
    const expected = Math.floor(process.uptime());
    expect(Number(response.uptimeSeconds)).toBeGreaterThanOrEqual(expected - 1);
    expect(Number(response.uptimeSeconds)).toBeLessThanOrEqual(expected + 1);
  });

  it("reports NOT_SERVING once the shutdown signal is aborted", async () => {
    const shutdown = new AbortController();
    const client = clientFor({ stats: noSessionStats, shutdownSignal: shutdown.signal });
    expect((await client.healthCheck({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    shutdown.abort();
    expect((await client.healthCheck({})).status).toBe(
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    );
  });

  it("accepts the empty service name and the bridge's full service name", async () => {
    const client = clientFor({ stats: noSessionStats });
    for (const service of ["", "mentra.livekit.bridge.LiveKitBridge"]) {
      expect((await client.healthCheck({ service })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
    }
  });

  it("answers SERVICE_UNKNOWN for a service the bridge does not have", async () => {
    const client = clientFor({ stats: noSessionStats });
    for (const service of ["grpc.health.v1.Health", "LiveKitBridge"]) {
      const response = await client.healthCheck({ service });
      expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN);
    }
  });
});

describe("RPCs not built yet (in memory)", () => {
  const client = clientFor({ stats: noSessionStats });

  it.each([
    ["JoinRoom", () => client.joinRoom({ userId: "u1", roomName: "r1" })],
    ["LeaveRoom", () => client.leaveRoom({ userId: "u1" })],
    ["StopAudio", () => client.stopAudio({ userId: "u1" })],
    ["GetStatus", () => client.getStatus({ userId: "u1" })],
  ])("%s answers Unimplemented with its name", async (method, call) => {
    expect(await codeOf(call)).toEqual({
      code: Code.Unimplemented,
      message: `${method} is not implemented yet in this build`,
    });
  });

  it("PlayAudio (server streaming) answers Unimplemented", async () => {
    const result = await codeOf(async () => {
      for await (const _event of client.playAudio({
        requestId: "p1",
        audioUrl: "http://x/a.mp3",
      })) {
        // no events expected
      }
    });
    expect(result).toEqual({
      code: Code.Unimplemented,
      message: "PlayAudio is not implemented yet in this build",
    });
  });

  it("StreamAudio (bidirectional) answers Unimplemented", async () => {
    async function* chunks() {
      yield { userId: "u1", sampleRate: 16000 };
    }
    const result = await codeOf(async () => {
      for await (const _chunk of client.streamAudio(chunks())) {
        // no chunks expected
      }
    });
    expect(result).toEqual({
      code: Code.Unimplemented,
      message: "StreamAudio is not implemented yet in this build",
    });
  });
});
