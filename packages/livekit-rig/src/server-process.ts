import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

/** How to launch livekit-server and where it will answer. */
export interface ServerProcessOptions {
  command: string;
  args: string[];
  /** Base HTTP URL polled until it answers 200, e.g. http://10.213.7.2:7880. */
  healthUrl: string;
  /** How long to wait for the first 200. */
  startTimeoutMs: number;
  /** Prefix for livekit-server's own output; undefined keeps it quiet unless it fails. */
  logPrefix: string | undefined;
}

/** A running livekit-server process. */
export interface ServerProcess {
  pid: number;
  /** Stops the server (forced drain), SIGKILL after `graceMs`; resolves once it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now, synchronously: for exit-time cleanup. */
  killSync(): void;
}

const TAIL_LINES = 40;

/** Starts livekit-server and resolves once it answers HTTP, or rejects with the tail of its output. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, {
    // A process group of its own: a Ctrl-C in the terminal reaches the bridge,
    // which then stops LiveKit in order, instead of both dying at once.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      if (options.logPrefix !== undefined) process.stderr.write(`${options.logPrefix}${line}\n`);
    }
  };
  child.stdout?.on("data", onOutput);
  child.stderr?.on("data", onOutput);
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  try {
    await once(child, "spawn");
    await waitForHealth(options.healthUrl, options.startTimeoutMs, exited);
  } catch (err) {
    killQuietly(child);
    throw new Error(
      `livekit-server (${options.command} ${options.args.join(" ")}) did not start: ${(err as Error).message}. ` +
        `Last output:\n${tail.join("\n") || "(none)"}`,
    );
  }
  // Later errors (a failed kill) must not become uncaught exceptions.
  child.on("error", () => {});
  const pid = child.pid ?? 0;
  return {
    pid,
    killSync: () => killQuietly(child),
    stop: async (graceMs = 3000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // livekit-server drains on its first signal (waiting for participants
      // to leave) and stops at once on its second.
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGTERM"), 100);
      const kill = setTimeout(() => killQuietly(child), graceMs);
      await exited;
      clearTimeout(force);
      clearTimeout(kill);
    },
  };
}

function killQuietly(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

async function waitForHealth(
  url: string,
  timeoutMs: number,
  exited: Promise<{ code: number | null; signal: string | null }>,
): Promise<void> {
  let exit: { code: number | null; signal: string | null } | undefined;
  void exited.then((e) => {
    exit = e;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit) throw new Error(`exited early (code ${exit.code}, signal ${exit.signal})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`did not answer ${url} within ${timeoutMs} ms`);
}
