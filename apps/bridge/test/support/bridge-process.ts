import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** The built bridge (`npm start` runs it): build apps/bridge before the tests that start it. */
export const BRIDGE_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/** How to start a bridge process. */
export interface BridgeProcessOptions {
  /** Settings on top of this process's environment and BRIDGE_HOST=127.0.0.1, BRIDGE_PORT=0. */
  readonly env: NodeJS.ProcessEnv;
  /** The command and its arguments; default node running {@link BRIDGE_MAIN}. */
  readonly command?: string;
  readonly args?: readonly string[];
  /** Whether stdout is kept in the output too (stderr always is); default no. */
  readonly stdout?: boolean;
  /** Keep only the end of the output, at most this many characters; default all of it. */
  readonly keepChars?: number;
  /** How long to wait for its "bridge listening" log line; default 20 s. */
  readonly listenTimeoutMs?: number;
}

/** A bridge process that has logged "bridge listening". */
export interface BridgeProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The TCP port from its "bridge listening" line. */
  readonly port: number;
  /** What it printed so far (see {@link BridgeProcessOptions.keepChars}). */
  output(): string;
  /** SIGTERM, then SIGKILL if still running 15 s later; resolves its exit code. */
  stop(): Promise<number | null>;
}

/** Starts the bridge as its own process and waits for it to listen (killed if it does not). */
export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcess> {
  const proc = spawn(options.command ?? process.execPath, options.args ?? [BRIDGE_MAIN], {
    env: { ...process.env, BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0", ...options.env },
    stdio: ["ignore", options.stdout === true ? "pipe" : "ignore", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (options.keepChars !== undefined) output = output.slice(-options.keepChars);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const timeoutMs = options.listenTimeoutMs ?? 20_000;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`the bridge did not listen within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = () => {
      const line = output.split("\n").find((candidate) => candidate.includes('"bridge listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      proc.stderr?.off("data", check);
      resolve((JSON.parse(line) as { port: number }).port);
    };
    proc.stderr?.on("data", check);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the bridge exited (${code ?? signal}):\n${output}`));
    });
  });
  return {
    proc,
    pid: proc.pid ?? 0,
    port,
    output: () => output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
      return proc.exitCode;
    },
  };
}
