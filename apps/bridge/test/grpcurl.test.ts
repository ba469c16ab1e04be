import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { type BridgeServer, createBridgeServer } from "../src/server.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { grpcurlBinary, tcpAddress } from "./support/tools.js";

const execFileAsync = promisify(execFile);
const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

describe("grpcurl against the bridge (h2c, no TLS)", () => {
  let server: BridgeServer;
  let port: number;

  beforeAll(async () => {
    server = createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      routes: (shutdownSignal) =>
        createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
    });
    ({ port } = tcpAddress(await server.listen()));
  });

  afterAll(() => server.close());

  it("gets SERVING from HealthCheck, as in the README", async () => {
    const { stdout } = await execFileAsync(grpcurlBinary(), [
      "-plaintext",
      "-import-path",
      PROTO_ROOT,
      "-proto",
      "mentra/livekit/bridge/bridge.proto",
      `127.0.0.1:${port}`,
      "mentra.livekit.bridge.LiveKitBridge/HealthCheck",
    ]);
    expect(stdout).toContain('"status": "SERVING"');
    // uptimeSeconds is left out of the JSON while it is 0, as proto3 JSON does.
    expect(stdout).toContain(`"node_version": "${process.version}"`);
  });

  it("gets InvalidArgument from a JoinRoom without room_name", async () => {
    const failure = await execFileAsync(grpcurlBinary(), [
      "-plaintext",
      "-import-path",
      PROTO_ROOT,
      "-proto",
      "mentra/livekit/bridge/bridge.proto",
      "-d",
      '{"user_id": "u1"}',
      `127.0.0.1:${port}`,
      "mentra.livekit.bridge.LiveKitBridge/JoinRoom",
    ]).then(
      () => undefined,
      (error: { stdout: string; stderr: string }) => error,
    );
    expect(failure?.stderr ?? "").toContain("Code: InvalidArgument");
    expect(failure?.stderr ?? "").toContain("room_name is required");
  });
});
