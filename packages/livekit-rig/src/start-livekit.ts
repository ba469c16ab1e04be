import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { livekitConfig } from "./livekit-config.js";
import {
  createNetns,
  isolationUnavailableReason,
  removeLeftoverNamespaces,
  type TestNetns,
} from "./netns.js";
import { type NetworkFaults, networkFaults } from "./network-faults.js";
import { livekitServerBinary } from "./paths.js";
import { serializer } from "./serialize.js";
import { type ServerProcess, serverCommand, startServerProcess } from "./server-process.js";

/** Whether livekit-server runs in a network namespace of its own. */
export type IsolationMode = "auto" | "on" | "off";

/** Options of {@link startLiveKit}. */
export interface StartLiveKitOptions {
  /** "on": a namespace or fail; "auto": a namespace when root on Linux; "off": plain. Default "on". */
  isolate?: IsolationMode;
  /** Prefix for livekit-server's log lines; undefined keeps them quiet unless it fails. */
  logPrefix?: string;
  /** Receives livekit-server's log lines instead of stderr (the bridge scrubs them). */
  onLogLine?: (line: string) => void;
  /** livekit-server's log level, default "warn". */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** How long to wait for the server to answer, default 30 000 ms. */
  startTimeoutMs?: number;
}

/** A running livekit-server in dev mode and what it takes to talk to it. */
export interface LiveKitRig {
  /** Signalling URL for rtc-node and the bridge, e.g. ws://10.213.7.2:7880. */
  url: string;
  /** HTTP URL for the server APIs (livekit-server-sdk's RoomServiceClient). */
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  /** The namespace livekit-server runs in, when isolated. */
  namespace: string | undefined;
  /** Trouble on the link to livekit-server; undefined when not isolated. */
  network: NetworkFaults | undefined;
  /**
   * Stops livekit-server but keeps its namespace, config, URL and keys, to
   * make LiveKit unreachable for a while. SIGTERM first, so connected clients
   * get a server-shutdown leave; SIGKILL after `graceMs` (default 3000).
   * Resolves once it has exited; a no-op when already stopped. Rejects after close().
   */
  stopServer(graceMs?: number): Promise<void>;
  /**
   * Starts livekit-server again with the same config, namespace, URL, port and
   * keys; resolves once it answers HTTP. A no-op when running. Rejects after close().
   */
  startServer(): Promise<void>;
  /** {@link LiveKitRig.stopServer} then {@link LiveKitRig.startServer}: a LiveKit restart. */
  restart(): Promise<void>;
  /**
   * Stops livekit-server, then removes its namespace. Idempotent,
   * and the one teardown path whatever stopServer/startServer/restart did before.
   */
  close(): Promise<void>;
}

const PORT = 7880;
const TCP_PORT = 7881;
const UDP_PORT = 7882;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function shouldIsolate(mode: IsolationMode): Promise<boolean> {
  if (mode === "off") return false;
  const reason = await isolationUnavailableReason();
  if (reason === undefined) return true;
  if (mode === "on") throw new Error(`cannot isolate livekit-server: ${reason}`);
  return false;
}

/**
 * Starts the pinned livekit-server in dev mode with a generated config and
 * waits until it answers. Isolated, it runs inside a fresh network namespace
 * reached over a veth pair, so WebRTC (which ignores loopback) has a real link
 * and no packet leaves the machine; leftovers of crashed runs are removed first.
 */
export async function startLiveKit(options: StartLiveKitOptions = {}): Promise<LiveKitRig> {
  const isolated = await shouldIsolate(options.isolate ?? "on");
  const apiKey = `rig${randomBytes(4).toString("hex")}`;
  const apiSecret = randomBytes(24).toString("base64url");
  let netns: TestNetns | undefined;
  const cleanupSync = () => netns?.destroySync();
  try {
    if (isolated) {
      await removeLeftoverNamespaces();
      netns = await createNetns();
      process.once("exit", cleanupSync);
    }
    const ip = netns?.nsIp ?? "127.0.0.1";
    const port = netns ? PORT : await freePort();
    // The config carries the API secret: it goes in livekit-server's environment
    // (LIVEKIT_CONFIG), never in a file another user could read or a crash could leave.
    const config = livekitConfig({
      bindIp: ip,
      port,
      udpPort: netns ? UDP_PORT : await freePort(),
      tcpPort: netns ? TCP_PORT : await freePort(),
      apiKey,
      apiSecret,
      logLevel: options.logLevel ?? "warn",
      ...(netns ? { isolatedTo: { interface: netns.nsInterface, ip } } : {}),
    });
    const { command, args } = serverCommand(netns?.name, livekitServerBinary(), ["--dev"]);
    const launch = () =>
      startServerProcess({
        command,
        args,
        onLogLine: options.onLogLine,
        healthUrl: `http://${ip}:${port}/`,
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
        logPrefix: options.logPrefix,
        env: { LIVEKIT_CONFIG: config },
      });
    let server: ServerProcess | undefined = await launch();
    // stopServer, startServer, restart and close run one at a time, in call order.
    const serialized = serializer();
    let closed = false;
    let closing: Promise<void> | undefined;
    const assertOpen = () => {
      if (closed) throw new Error("the LiveKit rig is closed; start a new one with startLiveKit()");
    };
    const stop = async (graceMs?: number) => {
      await server?.stop(graceMs);
      server = undefined;
    };
    const start = async () => {
      assertOpen();
      server ??= await launch();
    };
    return {
      url: `ws://${ip}:${port}`,
      httpUrl: `http://${ip}:${port}`,
      apiKey,
      apiSecret,
      namespace: netns?.name,
      network: netns ? networkFaults(netns) : undefined,
      stopServer: (graceMs) =>
        serialized(async () => {
          assertOpen();
          await stop(graceMs);
        }),
      startServer: () => serialized(start),
      restart: () =>
        serialized(async () => {
          assertOpen();
          await stop();
          await start();
        }),
      close: () => {
        closed = true;
        closing ??= serialized(async () => {
          await stop();
          await netns?.destroy();
          process.off("exit", cleanupSync);
        });
        return closing;
      },
    };
  } catch (err) {
    cleanupSync();
    process.off("exit", cleanupSync);
    throw err;
  }
}
