import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type {
  FarmCall,
  FarmReplies,
  FarmReply,
  FarmRequest,
  SendReport,
} from "./device-farm-protocol.js";
import type { DevicePacketFormat } from "./device-packets.js";
import type { LiveKitCredentials } from "./token.js";

export { FARM_BLOCK_SAMPLES, type SendReport } from "./device-farm-protocol.js";

const CHILD = fileURLToPath(new URL("./device-farm-child.js", import.meta.url));

/**
 * Simulated glasses in a process of their own: real rtc-node participants, each talking on
 * its own schedule, so that the process under test (the cloud, with its client) does not
 * share an event loop and a WebRTC stack with thirty devices, as it never does in production.
 * Devices are named by an id of the caller's choosing.
 */
export interface DeviceFarm {
  /**
   * Joins a device to `room` as `identity`; it sends the phone's packets (a sequence byte
   * before the PCM, on the lossy channel) unless `options.format` is "raw"; `reliable`
   * picks LiveKit's reliable channel (a test of something other than loss).
   */
  join(
    id: string,
    creds: LiveKitCredentials,
    room: string,
    identity: string,
    options?: { format?: DevicePacketFormat; reliable?: boolean },
  ): Promise<void>;
  /**
   * Every device joined so far sends, from now on, a data packet of `blocksPerPacket` 20 ms
   * blocks of 16 kHz PCM (little-endian, after the phone's sequence byte unless the device
   * is raw) every packet's duration, each block numbered in its
   * first sample (0, 1, 2… modulo 30000), for at most `maxMs` (≤ 300 s). A device that falls
   * behind sends what it owes at once, as a phone with buffered audio does.
   */
  talk(options: { blocksPerPacket: number; maxMs: number }): Promise<void>;
  /** Records each device's audio from the given identity; says which were subscribed in time. */
  listen(from: Record<string, string>, timeoutMs: number): Promise<Record<string, boolean>>;
  /** Stops recording: 16 kHz mono per device; the devices then unsubscribe from everything. */
  stopListening(): Promise<Record<string, Int16Array>>;
  /** How each device's sends begun within [fromMs, toMs) went (epoch milliseconds). */
  sends(fromMs: number, toMs: number): Promise<Record<string, SendReport>>;
  /** Devices leave and the process ends. Idempotent. */
  close(): Promise<void>;
}

/** Starts the farm's process. */
export async function startDeviceFarm(): Promise<DeviceFarm> {
  const child: ChildProcess = spawn(process.execPath, [CHILD], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let calls = 0;
  child.on("message", (reply: FarmReply) => {
    const waiter = pending.get(reply.call);
    pending.delete(reply.call);
    if (reply.ok) waiter?.resolve(reply.value);
    else waiter?.reject(new Error(`device farm: ${reply.error}`));
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error("device farm exited"));
    pending.clear();
  });

  function call<K extends FarmRequest["kind"]>(
    request: Extract<FarmRequest, { kind: K }>,
  ): Promise<FarmReplies[K]> {
    if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
      return Promise.reject(new Error("device farm exited"));
    }
    const message: FarmCall = { call: ++calls, request };
    return new Promise((resolve, reject) => {
      pending.set(message.call, { resolve: resolve as (v: unknown) => void, reject });
      child.send(message);
    });
  }

  let closing: Promise<void> | undefined;
  return {
    // (only the credentials cross: a rig object carries functions, which IPC cannot)
    join: (id, { url, apiKey, apiSecret }, room, identity, options = {}) =>
      call({
        kind: "join",
        id,
        creds: { url, apiKey, apiSecret },
        room,
        identity,
        ...(options.format === undefined ? {} : { format: options.format }),
        ...(options.reliable === undefined ? {} : { reliable: options.reliable }),
      }),
    talk: ({ blocksPerPacket, maxMs }) => call({ kind: "talk", blocksPerPacket, maxMs }),
    listen: (from, timeoutMs) => call({ kind: "listen", from, timeoutMs }),
    stopListening: () => call({ kind: "stopListening" }),
    sends: (fromMs, toMs) => call({ kind: "sends", fromMs, toMs }),
    close() {
      closing ??= (async () => {
        const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await call({ kind: "close" }).catch(() => {});
        if (child.connected) child.disconnect();
        await exited;
        clearTimeout(force);
      })();
      return closing;
    },
  };
}
