import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { grpcHealthV1, LiveKitBridge } from "@mentra/bridge-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeApp } from "../src/app.js";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { isLoopbackHost } from "../src/security/api-key.js";
import { createJoinLimits, type JoinLimitsOptions } from "../src/security/join-limits.js";
import { startApp } from "./support/app.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { runReadmeCommand } from "./support/tools.js";

const API_KEY = "test-key-0123456789abcdef";

async function codeOf(call: Promise<unknown>): Promise<ConnectError | undefined> {
  return call.then(
    () => undefined,
    (error: unknown) => ConnectError.from(error),
  );
}

describe("BRIDGE_API_KEY", () => {
  let app: BridgeApp;
  let url: string;
  let target: string;
  const managers: Http2SessionManager[] = [];
  const logLines: string[] = [];

  function client(apiKey?: string) {
    const sessionManager = new Http2SessionManager(url);
    managers.push(sessionManager);
    const transport = createGrpcTransport({
      baseUrl: url,
      sessionManager,
      interceptors:
        apiKey === undefined
          ? []
          : [
              (next) => (req) => {
                req.header.set("authorization", `Bearer ${apiKey}`);
                return next(req);
              },
            ],
    });
    return {
      bridge: createClient(LiveKitBridge, transport),
      health: createClient(grpcHealthV1.Health, transport),
    };
  }

  beforeAll(async () => {
    ({ app, url } = await startApp({
      env: { BRIDGE_API_KEY: API_KEY, LOG_LEVEL: "debug" },
      logLines,
    }));
    target = url.replace("http://", "");
  });
  afterAll(async () => {
    for (const manager of managers) manager.abort();
    await app.close();
  });

  it("refuses RPCs without the key, naming the header", async () => {
    const error = await codeOf(client().bridge.getStatus({ userId: "u1" }));
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toContain("authorization: Bearer");
  });

  it("refuses a wrong key, and a key of another length", async () => {
    for (const key of [`${API_KEY.slice(0, -1)}X`, "short", `${API_KEY}-and-more`]) {
      const error = await codeOf(client(key).bridge.getStatus({ userId: "u1" }));
      expect(error?.code).toBe(Code.Unauthenticated);
      expect(error?.rawMessage).toBe("invalid API key");
    }
  });

  it("serves RPCs with the right key", async () => {
    const status = await client(API_KEY).bridge.getStatus({ userId: "u1" });
    expect(status.connected).toBe(false);
  });

  it("leaves HealthCheck, grpc.health.v1 and reflection open", async () => {
    const open = client();
    expect((await open.bridge.healthCheck({})).status).toBe(1);
    expect((await open.health.check({})).status).toBe(
      grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING,
    );
    const listed = await runReadmeCommand("grpcurl -plaintext localhost:9090 list", target);
    expect(listed.stdout).toContain("mentra.livekit.bridge.LiveKitBridge");
  });

  it("logs refused calls but never the key, even one off by a character", () => {
    const refusals = logLines.map((line) => JSON.parse(line)).filter((l) => /refused/.test(l.msg));
    expect(refusals.length).toBeGreaterThanOrEqual(4);
    expect(refusals).toContainEqual(
      expect.objectContaining({
        msg: "refused a call with a wrong API key",
        authorization: "[redacted]",
      }),
    );
    const text = logLines.join("");
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(API_KEY.slice(0, -1));
  });
});

describe("isLoopbackHost (the warning for open ports without a key)", () => {
  it("tells loopback from every other address", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "localhost"].map(isLoopbackHost)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(["0.0.0.0", "::", "10.0.0.5", "example.com"].map(isLoopbackHost)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("JoinRoom limits (in memory)", () => {
  function limitedClient(overrides: Partial<JoinLimitsOptions>) {
    const limits = createJoinLimits({
      sessions: { count: () => 0, has: () => false },
      maxSessions: 100,
      ratePerMinute: 60,
      burst: 2,
      isDraining: () => false,
      ...overrides,
    });
    return createClient(
      LiveKitBridge,
      createRouterTransport(createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats }), {
        router: { interceptors: [limits] },
      }),
    );
  }

  it("refuses a new user beyond MAX_SESSIONS but lets a present user re-join", async () => {
    const client = limitedClient({
      maxSessions: 2,
      sessions: { count: () => 2, has: (userId) => userId === "present" },
    });
    const refused = await codeOf(client.joinRoom({ userId: "newcomer", roomName: "r" }));
    expect(refused?.code).toBe(Code.ResourceExhausted);
    expect(refused?.rawMessage).toBe("the bridge is at its limit of 2 sessions (MAX_SESSIONS)");
    // The present user passes the limit (and then fails on the offline LiveKit: no key).
    const rejoin = await client.joinRoom({ userId: "present", roomName: "r" });
    expect(rejoin.success).toBe(false);
  });

  it("rate-limits JoinRoom per user with a retry hint, refilling over time", async () => {
    let now = 0;
    const client = limitedClient({ now: () => now });
    const join = (userId: string) => client.joinRoom({ userId, roomName: "r" });
    await join("u1");
    await join("u1");
    const limited = await codeOf(join("u1"));
    expect(limited?.code).toBe(Code.ResourceExhausted);
    expect(limited?.metadata.get("retry-after-ms")).toBe("1000");
    expect(limited?.rawMessage).toContain("retry in 1000 ms");
    // Another user has a bucket of their own.
    expect((await join("u2")).success).toBe(false);
    now += 1_000;
    expect((await join("u1")).success).toBe(false);
    expect((await codeOf(join("u1")))?.code).toBe(Code.ResourceExhausted);
  });

  it("answers Unavailable while draining", async () => {
    const client = limitedClient({ isDraining: () => true });
    const error = await codeOf(client.joinRoom({ userId: "u1", roomName: "r" }));
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toContain("join another instance");
  });
});
