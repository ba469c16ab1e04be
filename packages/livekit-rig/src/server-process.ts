import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

/** How to launch a server (livekit-server, redis-server) and how to tell it is ready. */
export interface ServerProcessOptions {
  /** What the server is called in errors; default "livekit-server". */
  name?: string;
  command: string;
  args: string[];
  /** Base HTTP URL polled until it answers 200, e.g. http://10.213.7.2:7880. */
  healthUrl?: string;
  /** For servers that do not speak HTTP: polled until it resolves true (a rejection counts as false). */
  probe?: () => Promise<boolean>;
  /** How long to wait until it is ready. */
  startTimeoutMs: number;
  /**
   * Variables added to the server's environment, e.g. its config with secrets in it:
   * unlike the command line (ps) or a file, only the same user can read it, and it leaves
   * nothing behind when we die.
   */
  env?: Record<string, string>;
  /** Prefix for the server's own output; undefined keeps it quiet unless it fails. */
  logPrefix: string | undefined;
  /** Receives each line of the server's output instead of stderr (e.g. to scrub it). */
  onLogLine?: ((line: string) => void) | undefined;
}

/**
 * The command line that runs `binary` inside namespace `netns` (or here when
 * undefined). On Linux, setpriv's parent-death signal kills the server if we die
 * without cleaning up; `ip netns exec` and setpriv both exec, so the spawned pid
 * is the server's own.
 */
export function serverCommand(
  netns: string | undefined,
  binary: string,
  args: string[],
): { command: string; args: string[] } {
  const guarded = process.platform === "linux" ? ["setpriv", "--pdeathsig", "KILL", "--"] : [];
  const [command = binary, ...rest] = netns
    ? ["ip", "netns", "exec", netns, ...guarded, binary, ...args]
    : [...guarded, binary, ...args];
  return { command, args: rest };
}

/** A running server process. */
export interface ServerProcess {
  pid: number;
  /** Stops the server (forced drain), SIGKILL after `graceMs`; resolves once it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now, synchronously: for exit-time cleanup. */
  killSync(): void;
}

const TAIL_LINES = 40;

/** Starts a server and resolves once it is ready, or rejects with the tail of its output. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, {
    // A process group of its own: a Ctrl-C in the terminal reaches the bridge,
    // which then stops LiveKit in order, instead of both dying at once.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  const tail: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      if (options.onLogLine !== undefined) options.onLogLine(line);
      else if (options.logPrefix !== undefined) {
        process.stderr.write(`${options.logPrefix}${line}\n`);
      }
    }
  };
  child.stdout?.on("data", onOutput);
  child.stderr?.on("data", onOutput);
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  try {
    await once(child, "spawn");
    await waitForReady(readiness(options), options.startTimeoutMs, exited);
  } catch (err) {
    killQuietly(child);
    throw new Error(
      `${options.name ?? "livekit-server"} (${options.command} ${options.args.join(" ")}) did not start: ${(err as Error).message}. ` +
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

interface Readiness {
  check: () => Promise<boolean>;
  /** What is awaited, for the timeout error: "answer http://...". */
  what: string;
}

function readiness(options: ServerProcessOptions): Readiness {
  const { healthUrl, probe } = options;
  if (probe) return { check: probe, what: "pass its readiness probe" };
  if (healthUrl === undefined) throw new Error("a server needs a healthUrl or a probe");
  return {
    check: async () => (await fetch(healthUrl, { signal: AbortSignal.timeout(1000) })).ok,
    what: `answer ${healthUrl}`,
  };
}

async function waitForReady(
  { check, what }: Readiness,
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
      if (await check()) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`did not ${what} within ${timeoutMs} ms`);
}
