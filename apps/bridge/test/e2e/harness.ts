import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge, type PcmByteOrder } from "@mentra/bridge-proto";
import { type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type Cleanups,
  joinUserWithDevice,
  type LiveKitCredentials,
  runCleanups,
  type TestParticipant,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { serverLimitsOf } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import { createLogger, type Logger, silentLogger } from "../../src/logger.js";
import { createBridgeRoutes } from "../../src/rpc/routes.js";
import { type BridgeServer, createBridgeServer } from "../../src/server.js";
import { SessionRegistry } from "../../src/session/registry.js";
import { tcpAddress } from "../support/tools.js";

/** A real livekit-server in its namespace plus an in-process bridge talking to it. */
export interface BridgeRig {
  readonly livekit: LiveKitRig;
  readonly creds: LiveKitCredentials;
  readonly registry: SessionRegistry;
  readonly server: BridgeServer;
  readonly client: ReturnType<typeof createClient<typeof LiveKitBridge>>;
  readonly config: Config;
  /** Another bridge instance on the same LiveKit, e.g. with other settings. */
  startBridge(env?: NodeJS.ProcessEnv): Promise<BridgeInstance>;
  close(): Promise<void>;
}

/** One bridge server with its registry and a gRPC client for it. */
export interface BridgeInstance {
  readonly registry: SessionRegistry;
  readonly server: BridgeServer;
  readonly client: ReturnType<typeof createClient<typeof LiveKitBridge>>;
  readonly config: Config;
  close(): Promise<void>;
}

function testLogger(): Logger {
  if (process.env.BRIDGE_TEST_LOG === undefined) return silentLogger;
  return createLogger({ level: "debug", write: (text) => process.stderr.write(text) });
}

async function startInstance(livekit: LiveKitRig, env: NodeJS.ProcessEnv): Promise<BridgeInstance> {
  const config = loadConfig({ BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0", ...env });
  const logger = testLogger();
  const registry = new SessionRegistry({
    config,
    livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
    logger,
  });
  const server = createBridgeServer({
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: 2_000,
    ...serverLimitsOf(config),
    logger,
    routes: (shutdownSignal) =>
      createBridgeRoutes({ registry, maxChunkBytes: config.maxChunkBytes, logger, shutdownSignal }),
  });
  const address = tcpAddress(await server.listen());
  const client = createClient(LiveKitBridge, createGrpcTransport({ baseUrl: address.url }));
  let closing: Promise<void> | undefined;
  return {
    registry,
    server,
    client,
    config,
    close() {
      closing ??= (async () => {
        const sessions = registry.closeAll();
        await server.close();
        await sessions;
      })();
      return closing;
    },
  };
}

/** Starts LiveKit and one bridge; `env` holds bridge settings as environment variables. */
export async function startBridgeRig(env: NodeJS.ProcessEnv = {}): Promise<BridgeRig> {
  const livekit = await startLiveKit({ isolate: "on" });
  const instances: BridgeInstance[] = [];
  try {
    const main = await startInstance(livekit, env);
    instances.push(main);
    return {
      livekit,
      creds: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      registry: main.registry,
      server: main.server,
      client: main.client,
      config: main.config,
      async startBridge(extraEnv = {}) {
        const instance = await startInstance(livekit, { ...env, ...extraEnv });
        instances.push(instance);
        return instance;
      },
      async close() {
        await Promise.allSettled(instances.map((instance) => instance.close()));
        await livekit.close();
      },
    };
  } catch (error) {
    await Promise.allSettled(instances.map((instance) => instance.close()));
    await livekit.close();
    throw error;
  }
}

/** A gRPC client of the bridge at `baseUrl` that sends `apiKey` as its bearer token. */
export function clientWithApiKey(baseUrl: string, apiKey: string): BridgeRig["client"] {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
  return createClient(LiveKitBridge, createGrpcTransport({ baseUrl, interceptors: [bearer] }));
}

/** A unique room name per test, so tests never share LiveKit state. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Registers the hooks every e2e file needs: a rig for the whole file (passed to
 * `onStart`), the returned cleanups run after each test (last first), the rig closed at
 * the end.
 */
export function useBridgeRig(env: NodeJS.ProcessEnv, onStart: (rig: BridgeRig) => void): Cleanups {
  let rig: BridgeRig | undefined;
  const cleanups: Cleanups = [];
  beforeAll(async () => {
    rig = await startBridgeRig(env);
    onStart(rig);
  });
  afterEach(() => runCleanups(cleanups));
  afterAll(async () => {
    await rig?.close();
  });
  return cleanups;
}

/**
 * JoinRoom for `userId` in `room` (a fresh one unless given), the device being "glasses",
 * checked to succeed; LeaveRoom through `cleanups`. Returns the room.
 */
export async function joinUser(
  client: BridgeRig["client"],
  cleanups: Cleanups,
  userId: string,
  room = uniqueRoom(userId),
): Promise<string> {
  const join = await client.joinRoom({ userId, roomName: room, targetIdentity: "glasses" });
  expect(join.success).toBe(true);
  cleanups.push(() => client.leaveRoom({ userId }));
  return room;
}

/** What {@link joinUserAndDevice} set up. */
export interface UserAndDevice {
  readonly room: string;
  readonly device: TestParticipant;
  /** The bridge's participant identity for the user, as JoinRoom reported it. */
  readonly bridgeIdentity: string;
}

/**
 * JoinRoom for `userId` in a fresh room (or `request.roomName`), checked to succeed (the
 * device is "glasses" unless `request.targetIdentity` says otherwise), then the device
 * joins that room; see test-kit's joinUserWithDevice. Both are undone through `cleanups`:
 * the device leaves, then LeaveRoom.
 */
export async function joinUserAndDevice(
  rig: Pick<BridgeRig, "client" | "creds">,
  cleanups: Cleanups,
  userId: string,
  request: {
    roomName?: string;
    targetIdentity?: string;
    pcmByteOrder?: PcmByteOrder;
    receiveSampleRate?: number;
    receiveFrameMs?: number;
  } = {},
): Promise<UserAndDevice> {
  const room = request.roomName ?? uniqueRoom(userId);
  const targetIdentity = request.targetIdentity || "glasses";
  const { joined, device } = await joinUserWithDevice({
    livekit: rig.creds,
    room,
    deviceIdentity: targetIdentity,
    cleanups,
    leave: () => rig.client.leaveRoom({ userId }),
    async join() {
      const join = await rig.client.joinRoom({
        ...request,
        userId,
        roomName: room,
        targetIdentity,
      });
      expect(join.error).toBe("");
      expect(join.success).toBe(true);
      return join;
    },
  });
  return { room, device, bridgeIdentity: joined.metadata.identity ?? "" };
}
