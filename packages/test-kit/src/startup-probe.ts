import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";

/** Where a bridge listens: a Unix socket (as the cloud's container has it) or host and port. */
export type BridgeTarget =
  | { readonly socketPath: string }
  | { readonly host: string; readonly port: number };

/** What one raw gRPC HealthCheck returned. */
export interface GrpcHealth {
  /** HealthCheckResponse.status: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN. */
  readonly status: number;
}

const HEALTH_PATH = "/mentra.livekit.bridge.LiveKitBridge/HealthCheck";

/** Reads HealthCheckResponse field 1 (varint) from an encoded message; absent means 0. */
function servingStatusOf(message: Uint8Array): number {
  let offset = 0;
  while (offset < message.length) {
    const key = message[offset++] ?? 0;
    if (key === 0x08) return message[offset] ?? 0;
    const wireType = key & 7;
    if (wireType === 0) {
      while ((message[offset++] ?? 0) & 0x80);
    } else if (wireType === 2) {
      let length = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = message[offset++] ?? 0;
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      offset += length;
    } else {
      return 0;
    }
  }
  return 0;
}

/**
 * One gRPC HealthCheck over HTTP/2, as the deployed grpc-js client sends it, on a fresh
 * connection: nothing is cached between calls, so a poll loop sees exactly when the bridge
 * starts answering. Rejects on any connection or gRPC error, and after `timeoutMs`.
 */
export function grpcHealthCheck(target: BridgeTarget, timeoutMs = 1_000): Promise<GrpcHealth> {
  return new Promise((resolve, reject) => {
    const session = http2.connect("http://localhost", {
      createConnection: () =>
        "socketPath" in target
          ? net.connect(target.socketPath)
          : net.connect(target.port, target.host),
    });
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (error: Error | undefined, health?: GrpcHealth) => {
      clearTimeout(timer);
      session.destroy();
      if (error !== undefined) reject(error);
      else if (health !== undefined) resolve(health);
    };
    session.on("error", (error) => finish(error));
    const stream = session.request({
      ":method": "POST",
      ":path": HEALTH_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error) => finish(error));
    stream.on("trailers", (trailers) => {
      const grpcStatus = Number(trailers["grpc-status"] ?? -1);
      if (grpcStatus !== 0) {
        finish(new Error(`grpc-status ${grpcStatus}: ${String(trailers["grpc-message"] ?? "")}`));
        return;
      }
      const body = Buffer.concat(chunks);
      finish(undefined, { status: servingStatusOf(body.subarray(5)) });
    });
    stream.on("close", () => finish(new Error("the stream closed without trailers")));
    // An empty HealthCheckRequest: uncompressed flag, length 0.
    stream.end(Buffer.alloc(5));
  });
}

/** A process started by {@link startAndTime}, with the time it took to answer HealthCheck. */
export interface TimedStart {
  /** From spawn() to the first HealthCheck that answered, in milliseconds. */
  readonly ms: number;
  /** What the first answer said. */
  readonly health: GrpcHealth;
  /**
   * CPU time (user + system, all threads) the process had used when it answered, from
   * /proc (10 ms resolution); undefined where /proc is missing. Unlike `ms`, it hardly
   * grows when other processes share the CPU.
   */
  readonly cpuMs: number | undefined;
  readonly child: ChildProcess;
  /** Resolves with the exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
  /** The last few kB of the process's stderr. */
  log(): string;
  /** Sends `signal` (default SIGKILL) unless it has exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of {@link startAndTime}. */
export interface StartAndTimeOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Where HealthCheck is polled. */
  readonly target: BridgeTarget;
  /** Gives up (killing the process) after this long; default 15000. */
  readonly timeoutMs?: number;
  /** Pause between polls; default 2 (the figure's resolution). */
  readonly pollMs?: number;
}

/**
 * Spawns the process and polls `target` with {@link grpcHealthCheck} until it answers:
 * the time from spawn to serving HealthCheck, as a client that retries sees it. Rejects
 * (and kills the process) when it exits first or the timeout passes.
 */
export async function startAndTime(options: StartAndTimeOptions): Promise<TimedStart> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const pollMs = options.pollMs ?? 2;
  const started = performance.now();
  const child = spawn(options.command, [...options.args], {
    env: options.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8_000);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  for (;;) {
    const health = await grpcHealthCheck(options.target, 1_000).catch(() => undefined);
    if (health !== undefined) {
      const ms = performance.now() - started;
      const cpuMs = cpuMsOf(child.pid);
      return { ms, health, cpuMs, child, exited, log: () => log, stop };
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the process exited (${child.exitCode ?? child.signalCode}) first:\n${log}`);
    }
    if (performance.now() - started > timeoutMs) {
      await stop();
      throw new Error(`no HealthCheck answer within ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** utime + stime of a process from /proc/<pid>/stat, in ms; undefined if unreadable. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux build Node supports.
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
