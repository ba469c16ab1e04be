import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { livekitConfig } from "./livekit-config.js";
import {
  createNetns,
  isolationUnavailableReason,
  removeLeftoverNamespaces,
  type TestNetns,
} from "./netns.js";
import { type NetworkFaults, networkFaults } from "./network-faults.js";
import { livekitServerBinary } from "./paths.js";
import { type RigRedis, startRedis } from "./redis.js";
import { serializer } from "./serialize.js";
import { type ServerProcess, serverCommand, startServerProcess } from "./server-process.js";

/** Options of {@link startLiveKitCluster}. */
export interface StartLiveKitClusterOptions {
  /** How many livekit-server nodes, 1 to {@link MAX_CLUSTER_NODES}; default 2. */
  nodes?: number;
  /**
   * Prefix for the servers' log lines ("[node 0] " or "[redis] " follows it);
   * undefined keeps them quiet unless one fails to start.
   */
  logPrefix?: string;
  /** livekit-server's log level, default "warn". */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** How long to wait for each server to answer, default 30 000 ms. */
  startTimeoutMs?: number;
}

/**
 * One livekit-server node of a cluster. It carries the cluster's keys, so it is
 * credentials test-kit takes as they are: `joinParticipant(cluster.nodes[1], ...)`.
 */
export interface LiveKitClusterNode {
  /** 0-based position in {@link LiveKitCluster.nodes}. */
  index: number;
  /** Signalling URL of this node, e.g. ws://10.213.7.2:7890. */
  url: string;
  /** HTTP URL of this node's server APIs. */
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  /**
   * Stops this node only (SIGTERM, SIGKILL after `graceMs`, default 3000); the
   * others and Redis keep running. A no-op when stopped. Rejects after close().
   */
  stop(graceMs?: number): Promise<void>;
  /** Starts this node again with the same config and ports. A no-op when running. Rejects after close(). */
  start(): Promise<void>;
  /** {@link LiveKitClusterNode.stop} then {@link LiveKitClusterNode.start}. */
  restart(): Promise<void>;
}

/** livekit-server nodes sharing one Redis, so a room can be joined through any of them. */
export interface LiveKitCluster {
  nodes: LiveKitClusterNode[];
  apiKey: string;
  apiSecret: string;
  /** The one Redis every node uses, bound inside the namespace only. */
  redis: RigRedis;
  /** The namespace Redis and every node run in. */
  namespace: string;
  /** Trouble on the namespace's one link, for every node at once. */
  network: NetworkFaults;
  /**
   * Stops every node, then Redis, then removes the namespace and the config
   * files. Idempotent, and the one teardown path whatever the nodes did before.
   */
  close(): Promise<void>;
}

/** The most nodes one cluster may have (their ports are laid out from fixed bases). */
export const MAX_CLUSTER_NODES = 8;

// Everything runs in a namespace of its own, so fixed ports cannot collide with
// anything else on the machine. Node i: signal 7880+10i, ICE/TCP 7881+10i, UDP
// 50000+100i to 50099+100i (one port per peer connection).
const REDIS_PORT = 6379;
const SIGNAL_PORT_BASE = 7880;
const NODE_PORT_STEP = 10;
const UDP_RANGE_BASE = 50_000;
const UDP_RANGE_SIZE = 100;

/** Ports of node `index` in a cluster. */
export function clusterNodePorts(index: number): {
  port: number;
  tcpPort: number;
  udpPortRange: { start: number; end: number };
} {
  const port = SIGNAL_PORT_BASE + NODE_PORT_STEP * index;
  const udpStart = UDP_RANGE_BASE + UDP_RANGE_SIZE * index;
  return {
    port,
    tcpPort: port + 1,
    udpPortRange: { start: udpStart, end: udpStart + UDP_RANGE_SIZE - 1 },
  };
}

async function onPath(binary: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // Not in this folder.
    }
  }
  return false;
}

/** What {@link nodeLaunchers} needs to configure the nodes of one cluster. */
interface NodeLaunchersOptions {
  count: number;
  netns: TestNetns;
  redis: RigRedis;
  apiKey: string;
  apiSecret: string;
  logLevel: NonNullable<StartLiveKitClusterOptions["logLevel"]>;
  startTimeoutMs: number;
  /** The log prefix of one server, or undefined to keep it quiet. */
  prefixed: (who: string) => string | undefined;
}

/**
 * One launcher per node: each starts that node's livekit-server in the namespace, with
 * the cluster's keys, Redis and the node's own ports, and may be called again after a stop.
 */
function nodeLaunchers(options: NodeLaunchersOptions): (() => Promise<ServerProcess>)[] {
  const { netns: ns, redis, apiKey, apiSecret, startTimeoutMs, prefixed } = options;
  const ip = ns.nsIp;
  const binary = livekitServerBinary();
  return Array.from({ length: options.count }, (_, index) => {
    const ports = clusterNodePorts(index);
    // Secrets (API secret, Redis password) go in the environment, never in a file.
    const config = livekitConfig({
      bindIp: ip,
      port: ports.port,
      tcpPort: ports.tcpPort,
      udpPort: ports.udpPortRange,
      apiKey,
      apiSecret,
      logLevel: options.logLevel,
      isolatedTo: { interface: ns.nsInterface, ip },
      redis: { address: redis.address, password: redis.password },
    });
    const { command, args } = serverCommand(ns.name, binary, ["--dev"]);
    return () =>
      startServerProcess({
        command,
        args,
        healthUrl: `http://${ip}:${ports.port}/`,
        startTimeoutMs,
        logPrefix: prefixed(`node ${index}`),
        env: { LIVEKIT_CONFIG: config },
      });
  });
}

/**
 * Starts one redis-server and `nodes` livekit-server nodes (dev mode) configured
 * with it, so they form one cluster: a participant may join a room through any
 * node, and the nodes relay signalling and route media to the node hosting the
 * room. All of it runs inside one fresh network namespace (root on Linux is
 * required); the nodes share its veth address as node IP, each with its own
 * ports. Resolves once Redis answers PING and every node answers HTTP.
 */
export async function startLiveKitCluster(
  options: StartLiveKitClusterOptions = {},
): Promise<LiveKitCluster> {
  const count = options.nodes ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > MAX_CLUSTER_NODES) {
    throw new Error(`a LiveKit cluster has 1 to ${MAX_CLUSTER_NODES} nodes, not ${count}`);
  }
  const reason = await isolationUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start a LiveKit cluster: ${reason}`);
  if (!(await onPath("redis-server"))) {
    throw new Error(
      "cannot start a LiveKit cluster: redis-server is not on PATH (apt-get install -y redis-server)",
    );
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const prefixed = (who: string) =>
    options.logPrefix === undefined ? undefined : `${options.logPrefix}[${who}] `;
  const apiKey = `rig${randomBytes(4).toString("hex")}`;
  const apiSecret = randomBytes(24).toString("base64url");
  const dir = await mkdtemp(join(tmpdir(), "mentra-livekit-cluster-"));
  let netns: TestNetns | undefined;
  // Kills whatever still runs inside the namespace (Redis, nodes) if we exit without close().
  const cleanupSync = () => netns?.destroySync();
  let redisProcess: ServerProcess | undefined;
  const servers: (ServerProcess | undefined)[] = new Array(count).fill(undefined);
  const stopAll = async () => {
    await Promise.all(
      servers.map(async (server, i) => {
        await server?.stop();
        servers[i] = undefined;
      }),
    );
    // Nodes first: on their way out they unregister from Redis.
    await redisProcess?.stop();
    redisProcess = undefined;
  };
  try {
    await removeLeftoverNamespaces();
    netns = await createNetns({ alsoRemove: [dir] });
    process.once("exit", cleanupSync);
    const ns = netns;
    const ip = ns.nsIp;
    const { redis, process: started } = await startRedis({
      netns: ns.name,
      host: ip,
      port: REDIS_PORT,
      dir,
      startTimeoutMs,
      logPrefix: prefixed("redis"),
    });
    redisProcess = started;
    const launchers = nodeLaunchers({
      count,
      netns: ns,
      redis,
      apiKey,
      apiSecret,
      logLevel: options.logLevel ?? "warn",
      startTimeoutMs,
      prefixed,
    });
    const launched = await Promise.allSettled(
      launchers.map(async (launch, i) => {
        servers[i] = await launch();
      }),
    );
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;

    // Node operations and close run one at a time, in call order.
    const serialized = serializer();
    let closed = false;
    let closing: Promise<void> | undefined;
    const assertOpen = () => {
      if (closed) {
        throw new Error(
          "the LiveKit cluster is closed; start a new one with startLiveKitCluster()",
        );
      }
    };
    const stopNode = async (index: number, graceMs?: number) => {
      await servers[index]?.stop(graceMs);
      servers[index] = undefined;
    };
    const startNode = async (index: number) => {
      assertOpen();
      servers[index] ??= await (launchers[index] as () => Promise<ServerProcess>)();
    };
    const nodes = launchers.map((_, index): LiveKitClusterNode => {
      const { port } = clusterNodePorts(index);
      return {
        index,
        url: `ws://${ip}:${port}`,
        httpUrl: `http://${ip}:${port}`,
        apiKey,
        apiSecret,
        stop: (graceMs) =>
          serialized(async () => {
            assertOpen();
            await stopNode(index, graceMs);
          }),
        start: () => serialized(() => startNode(index)),
        restart: () =>
          serialized(async () => {
            assertOpen();
            await stopNode(index);
            await startNode(index);
          }),
      };
    });
    return {
      nodes,
      apiKey,
      apiSecret,
      redis,
      namespace: ns.name,
      network: networkFaults(ns),
      close: () => {
        closed = true;
        closing ??= serialized(async () => {
          await stopAll();
          await ns.destroy();
          process.off("exit", cleanupSync);
          await rm(dir, { recursive: true, force: true });
        });
        return closing;
      },
    };
  } catch (err) {
    await stopAll().catch(() => {});
    cleanupSync();
    process.off("exit", cleanupSync);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
