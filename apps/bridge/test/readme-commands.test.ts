import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeApp } from "../src/app.js";
import { type FakeLiveKit, startApp, startFakeLiveKit } from "./support/app.js";
import { type CommandResult, readmeBlock, runReadmeCommand } from "./support/tools.js";

// Every command of the README's "Poking it" section, in its order, with what it must print.
// The README block is compared with this list, so the two cannot drift apart.
const COMMANDS: readonly { command: string; check: (result: CommandResult) => void }[] = [
  {
    command: "grpcurl -plaintext localhost:9090 list",
    check: (r) =>
      expect(r.stdout.trim().split("\n")).toEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "mentra.livekit.bridge.LiveKitBridge",
      ]),
  },
  {
    command: "grpcurl -plaintext localhost:9090 describe mentra.livekit.bridge.LiveKitBridge",
    check: (r) =>
      expect(r.stdout).toContain(
        "rpc JoinRoom ( .mentra.livekit.bridge.JoinRoomRequest ) returns ( .mentra.livekit.bridge.JoinRoomResponse );",
      ),
  },
  {
    command: "grpcurl -plaintext localhost:9090 mentra.livekit.bridge.LiveKitBridge/HealthCheck",
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ status: "SERVING" }),
  },
  {
    command: "grpcurl -plaintext localhost:9090 grpc.health.v1.Health/Check",
    check: (r) => expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" }),
  },
  {
    command: "grpcurl -plaintext -max-time 1 localhost:9090 grpc.health.v1.Health/Watch",
    // A server stream: the first status, then the stream stays open until -max-time.
    check: (r) => {
      expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" });
      expect(r.stderr).toContain("DeadlineExceeded");
    },
  },
  {
    command: `grpcurl -plaintext -d '{"user_id": "u1"}' localhost:9090 mentra.livekit.bridge.LiveKitBridge/JoinRoom`,
    check: (r) => {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("Code: InvalidArgument");
      expect(r.stderr).toContain("Message: room_name is required");
    },
  },
  {
    command: "buf curl http://localhost:9090/mentra.livekit.bridge.LiveKitBridge/HealthCheck",
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ status: "SERVING" }),
  },
  {
    command:
      "buf curl --schema . http://localhost:9090/mentra.livekit.bridge.LiveKitBridge/HealthCheck",
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ status: "SERVING" }),
  },
  {
    command: "buf curl --protocol grpc http://localhost:9090/grpc.health.v1.Health/Check",
    check: (r) => expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" }),
  },
  {
    command: `curl -s -H 'content-type: application/json' -d '{}' http://localhost:9090/mentra.livekit.bridge.LiveKitBridge/HealthCheck`,
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ status: "SERVING" }),
  },
  {
    command: "curl -s http://localhost:9090/healthz",
    check: (r) => expect(r.stdout).toBe("ok\n"),
  },
  {
    command: "curl -s http://localhost:9090/readyz",
    check: (r) =>
      expect(JSON.parse(r.stdout)).toEqual({
        ready: true,
        checks: { listening: true, draining: false, livekit: true },
      }),
  },
  {
    command: "curl -s http://localhost:9090/metrics",
    check: (r) => {
      expect(r.stdout).toContain("# TYPE bridge_rpcs_total counter");
      expect(r.stdout).toMatch(/^bridge_sessions 0$/m);
    },
  },
];

describe("the README's 'Poking it' commands, run against a live bridge", () => {
  let livekit: FakeLiveKit;
  let app: BridgeApp;
  let target: string;

  beforeAll(async () => {
    livekit = await startFakeLiveKit();
    const started = await startApp({ livekitUrl: livekit.url });
    app = started.app;
    target = `127.0.0.1:${started.port}`;
  });
  afterAll(async () => {
    await app?.close();
    await livekit?.close();
  });

  it("lists exactly the commands this test runs", async () => {
    expect(await readmeBlock("## Poking it")).toEqual(COMMANDS.map((c) => c.command));
  });

  it.each(COMMANDS.map((c) => [c.command, c] as const))("%s", async (_name, { command, check }) => {
    const result = await runReadmeCommand(command, target);
    check(result);
  });
});
