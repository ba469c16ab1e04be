import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../../../apps/bridge/dist/main.js", import.meta.url));

/** The built bridge running as its own process, as in production. */
export interface BridgeProcess {
  readonly url: string;
  readonly port: number;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  /** The last few kB of its log, for diagnostics. */
  log(): string;
  /** Sends a signal (SIGKILL to crash it) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export { freePort } from "@mentra/test-kit";

/**
 * Starts `node apps/bridge/dist/main.js` on `host:port` (any 127.x address; default
 * 127.0.0.1) against the given LiveKit; resolves once it listens.
 */
export async function spawnBridge(
  port: number,
  livekit: { url: string; apiKey: string; apiSecret: string },
  env: NodeJS.ProcessEnv = {},
  host = "127.0.0.1",
): Promise<BridgeProcess> {
  const child: ChildProcess = spawn("node", [MAIN], {
    env: {
      ...process.env,
      BRIDGE_HOST: host,
      BRIDGE_PORT: String(port),
      LIVEKIT_URL: livekit.url,
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4_000);
  });
  // Ready when the port answers (LOG_LEVEL=warn hides the "listening" line).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the bridge did not start on port ${port}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url: `http://${host}:${port}`,
    port,
    exited,
    log: () => log,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
