import { spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, grpcHealthCheck, startAndTime, type TimedStart } from "@mentra/test-kit";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { deployedClient, unary } from "./support/deployed-client.js";

// The built bridge started the way the cloud's container starts the Go bridge: the
// deployed settings names, a Unix socket, the deployed cloud's grpc-js client.

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** The deployed container's settings (CONTRACT.md), LiveKit external so nothing else starts. */
function deployedEnv(socketPath: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    LIVEKIT_GRPC_SOCKET: socketPath,
    LIVEKIT_URL: "ws://127.0.0.1:7880",
    LIVEKIT_API_KEY: "devkey",
    LIVEKIT_API_SECRET: "a-development-secret-of-32-chars!",
    LOG_LEVEL: "info",
    ...extra,
  };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "0.0.0.0", () => probe.close(() => resolve(true)));
  });
}

/** The TCP ports process `pid` listens on: its socket inodes matched in /proc/net/tcp{,6}. */
function tcpListenersOf(pid: number): number[] {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })
      .map((link) => /^socket:\[(\d+)\]$/.exec(link)?.[1])
      .filter((inode) => inode !== undefined),
  );
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of fs.readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT" in hex, st 0A is LISTEN, the inode is field 9.
      if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) {
        ports.push(Number.parseInt(fields[1]?.split(":")[1] ?? "", 16));
      }
    }
  }
  return ports;
}

/** Leaves a socket file whose server died, as a SIGKILLed bridge does. */
async function staleSocketAt(socketPath: string): Promise<void> {
  const crashed = spawn(
    process.execPath,
    [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  await once(crashed.stdout, "data");
  crashed.kill("SIGKILL");
  await once(crashed, "exit");
}

describe("the bridge process with the deployed settings (LIVEKIT_GRPC_SOCKET, PORT)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bridge-deployed-"));
  let bridge: TimedStart | undefined;
  afterEach(async () => {
    await bridge?.stop();
    bridge = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("creates the folder, serves the deployed client on the socket (0666) and leaves PORT alone", async () => {
    const socketPath = path.join(dir, "run", "nested", "livekit-bridge.sock");
    // The cloud's container sets PORT for the cloud itself; the bridge must not take it.
    const cloudPort = await freePort();
    bridge = await startAndTime({
      command: process.execPath,
      args: [MAIN],
      env: deployedEnv(socketPath, { PORT: String(cloudPort) }),
      target: { socketPath },
    });
    expect(bridge.health.status).toBeGreaterThan(0);
    expect(fs.statSync(socketPath).isSocket()).toBe(true);
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o666);

    const client = deployedClient(`unix:${socketPath}`);
    try {
      const health = await unary<Record<string, unknown>>(client, "HealthCheck", {});
      expect(health).toMatchObject({ status: "SERVING", active_sessions: 0 });
      const error = await unary(client, "JoinRoom", { user_id: "u1" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ details: "room_name is required" });
    } finally {
      client.close();
    }
    expect(await portIsFree(cloudPort)).toBe(true);
    expect(tcpListenersOf(bridge.child.pid ?? 0)).toEqual([]);
    const listening = bridge
      .log()
      .split("\n")
      .find((line) => line.includes("bridge listening"));
    expect(JSON.parse(listening ?? "{}")).toMatchObject({ socketPath });
    expect(JSON.parse(listening ?? "{}").port).toBeUndefined();
    // Nothing listens beyond loopback, so no warning says it does.
    expect(bridge.log()).not.toContain("listening beyond loopback");

    // SIGTERM drains and removes the socket file.
    await bridge.stop("SIGTERM");
    expect(await bridge.exited).toBe(0);
    expect(fs.existsSync(socketPath)).toBe(false);
  });

  it("replaces the stale socket file a SIGKILLed bridge left", async () => {
    const socketPath = path.join(dir, "stale.sock");
    await staleSocketAt(socketPath);
    expect(fs.statSync(socketPath).isSocket()).toBe(true);
    await expect(grpcHealthCheck({ socketPath })).rejects.toThrow(/ECONNREFUSED/);

    bridge = await startAndTime({
      command: process.execPath,
      args: [MAIN],
      env: deployedEnv(socketPath),
      target: { socketPath },
    });
    expect((await grpcHealthCheck({ socketPath })).status).toBe(1);
  });

  it("BRIDGE_UNIX_SOCKET and BRIDGE_PORT win over the deployed names", async () => {
    const ours = path.join(dir, "ours.sock");
    const theirs = path.join(dir, "theirs.sock");
    const port = await freePort();
    bridge = await startAndTime({
      command: process.execPath,
      args: [MAIN],
      env: deployedEnv(theirs, {
        BRIDGE_UNIX_SOCKET: ours,
        BRIDGE_HOST: "127.0.0.1",
        BRIDGE_PORT: String(port),
        PORT: String(await freePort()),
      }),
      target: { socketPath: ours },
    });
    expect(fs.existsSync(theirs)).toBe(false);
    // The same check that found no TCP listener above finds this one.
    expect(tcpListenersOf(bridge.child.pid ?? 0)).toEqual([port]);
    expect((await grpcHealthCheck({ host: "127.0.0.1", port })).status).toBe(1);
  });
});
