import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";
import { describe, expect, it } from "vitest";
import { type BridgeStats, noSessionStats } from "../src/rpc/health-check.js";
import { type BridgeRoutesOptions, createBridgeRoutes } from "../src/rpc/routes.js";
import { BRIDGE_VERSION } from "../src/version.js";
import { offlineRoutes } from "./support/offline-routes.js";

function clientFor(options: Partial<BridgeRoutesOptions>) {
  return createClient(
    LiveKitBridge,
    createRouterTransport(createBridgeRoutes({ ...offlineRoutes(), ...options })),
  );
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

describe("PlayAudio and StopAudio without LiveKit (in memory)", () => {
  const client = clientFor({});

  it("PlayAudio for a user without a session is FailedPrecondition", async () => {
    const result = await codeOf(async () => {
      for await (const _event of client.playAudio({
        userId: "u1",
        requestId: "p1",
        audioUrl: "http://x/a.mp3",
      })) {
        // no events expected
      }
    });
    expect(result).toEqual({
      code: Code.FailedPrecondition,
      message: "no session for user u1: call JoinRoom first",
    });
  });

  it("StopAudio for a user without a session is success=false", async () => {
    expect(await client.stopAudio({ userId: "u1" })).toMatchObject({
      success: false,
      error: "no session for user u1",
    });
  });

  it("StopAudio without user_id is InvalidArgument", async () => {
    expect(await codeOf(() => client.stopAudio({}))).toEqual({
      code: Code.InvalidArgument,
      message: "user_id is required",
    });
  });
});

describe("session RPCs without LiveKit (in memory)", () => {
  const client = clientFor({});

  async function streamError(
    chunks: () => AsyncIterable<{ userId?: string; sampleRate?: number }>,
  ) {
    return codeOf(async () => {
      for await (const _chunk of client.streamAudio(chunks())) {
        // no chunks expected
      }
    });
  }

  it.each([
    ["JoinRoom without user_id", () => client.joinRoom({ roomName: "r1" }), "user_id is required"],
    [
      "JoinRoom without room_name",
      () => client.joinRoom({ userId: "u1" }),
      "room_name is required",
    ],
    [
      "JoinRoom with a receive rate out of range",
      () => client.joinRoom({ userId: "u1", roomName: "r1", receiveSampleRate: 7_999 }),
      "receive_sample_rate must be 0 or 8000..48000, got 7999",
    ],
    ["LeaveRoom without user_id", () => client.leaveRoom({}), "user_id is required"],
    ["GetStatus without user_id", () => client.getStatus({}), "user_id is required"],
  ])("%s is InvalidArgument", async (_name, call, message) => {
    expect(await codeOf(call)).toEqual({ code: Code.InvalidArgument, message });
  });

  it("JoinRoom without a token on a bridge that cannot mint says so, success=false", async () => {
    const response = await client.joinRoom({ userId: "u1", roomName: "r1" });
    expect(response.success).toBe(false);
    expect(response.error).toContain("cannot mint");
  });

  it("LeaveRoom and GetStatus for an unknown user", async () => {
    expect(await client.leaveRoom({ userId: "nobody" })).toMatchObject({
      success: false,
      error: "no session for user nobody",
    });
    const status = await client.getStatus({ userId: "nobody" });
    expect(status.connected).toBe(false);
    expect(status.metadata.session).toBe("none");
    expect(status.serverVersion).toBe(BRIDGE_VERSION);
  });

  it("StreamAudio whose first chunk has no user_id is InvalidArgument", async () => {
    expect(
      await streamError(async function* () {
        yield { sampleRate: 16000 };
      }),
    ).toEqual({ code: Code.InvalidArgument, message: "the first AudioChunk must carry user_id" });
  });

  it("StreamAudio for a user without a session is FailedPrecondition naming JoinRoom", async () => {
    expect(
      await streamError(async function* () {
        yield { userId: "u1", sampleRate: 16000 };
      }),
    ).toEqual({
      code: Code.FailedPrecondition,
      message: "no session for user u1: call JoinRoom first",
    });
  });
});
