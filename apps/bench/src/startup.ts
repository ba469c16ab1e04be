import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startAndTime } from "@mentra/test-kit";
import { BRIDGE_MAIN, BRIDGE_NODE_FLAGS } from "./bridge-launch.js";
import { type Percentiles, percentiles, round } from "./stats.js";

/** What {@link measureStartup} found. */
export interface StartupReport {
  /** Spawn to the first answered HealthCheck on the socket, per run (ms). */
  readonly runsMs: readonly number[];
  readonly spawnToHealth: Percentiles;
  /** CPU time the bridge had used when it answered (ms, 10 ms resolution). */
  readonly cpuAtHealth: Percentiles;
  /** The 1-minute load average before and after the runs, and the machine's cores. */
  readonly load: { readonly before: number; readonly after: number; readonly cores: number };
  /** The bridge's own figure (`startupMs` of "bridge listening": since its time origin). */
  readonly listeningAt: Percentiles;
  /** Runs that replaced the stale socket file the previous (SIGKILLed) run left. */
  readonly staleSocketRuns: number;
  /** What was started: "node dist/main.js" or the executable's path. */
  readonly started: string;
}

/** Options of {@link measureStartup}. */
export interface MeasureStartupOptions {
  /** How many starts; default 15. */
  readonly runs?: number;
  /** The bridge's entry; default the built apps/bridge/dist/main.js. */
  readonly main?: string;
  /**
   * A self-contained bridge to start instead of `node main` (the livekit-bridge
   * executable, `npm run build:binary`), started with no arguments as start.sh does.
   */
  readonly executable?: string;
  readonly say?: (line: string) => void;
}

/**
 * Starts the built bridge `runs` times as the cloud's container does (node main.js with
 * LIVEKIT_GRPC_SOCKET, an external LiveKit named by LIVEKIT_URL, so no LiveKit must run)
 * and times spawn → first gRPC HealthCheck answered on the socket, polling every 2 ms.
 * Each run is SIGKILLed, as a crashed bridge would be, so every run after the first
 * finds the stale socket file and replaces it: the restart the deployed client waits 2 s for.
 */
export async function measureStartup(options: MeasureStartupOptions = {}): Promise<StartupReport> {
  const runs = options.runs ?? 15;
  const dir = mkdtempSync(join(tmpdir(), "mentra-startup-"));
  const socketPath = join(dir, "livekit-bridge.sock");
  const runsMs: number[] = [];
  const listeningAt: number[] = [];
  const cpuMs: number[] = [];
  const loadBefore = loadAverage();
  try {
    for (let run = 0; run < runs; run++) {
      const started = await startAndTime({
        command: options.executable ?? process.execPath,
        args:
          options.executable === undefined
            ? [...BRIDGE_NODE_FLAGS, options.main ?? BRIDGE_MAIN]
            : [],
        env: {
          PATH: process.env.PATH,
          LIVEKIT_GRPC_SOCKET: socketPath,
          LIVEKIT_URL: "ws://127.0.0.1:7880",
          LIVEKIT_API_KEY: "startup-bench",
          LIVEKIT_API_SECRET: "startup-bench-secret-of-32-chars",
        },
        target: { socketPath },
      });
      runsMs.push(round(started.ms));
      if (started.cpuMs !== undefined) cpuMs.push(started.cpuMs);
      await started.stop("SIGKILL");
      const line = started
        .log()
        .split("\n")
        .find((candidate) => candidate.includes('"bridge listening"'));
      const own = line === undefined ? undefined : (JSON.parse(line) as { startupMs?: unknown });
      if (typeof own?.startupMs === "number") listeningAt.push(own.startupMs);
      options.say?.(`run ${run + 1}/${runs}: ${Math.round(started.ms)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    runsMs,
    spawnToHealth: percentiles(runsMs),
    cpuAtHealth: percentiles(cpuMs),
    load: { before: loadBefore, after: loadAverage(), cores: availableParallelism() },
    listeningAt: percentiles(listeningAt),
    staleSocketRuns: Math.max(0, runs - 1),
    started: options.executable ?? "node dist/main.js",
  };
}

/** The 1-minute load average: how many runnable processes shared the cores. */
function loadAverage(): number {
  return round(loadavg()[0] ?? 0, 2);
}

/** The report as a few lines of Markdown. */
export function startupMarkdown(report: StartupReport, machine: string): string {
  const row = (name: string, p: Percentiles) =>
    `| ${name} | ${p.count} | ${Math.round(p.p50)} | ${Math.round(p.p95)} | ${Math.round(p.max)} |`;
  return [
    `Bridge start-up (${machine}): ${report.started} with LIVEKIT_GRPC_SOCKET, as the cloud's container starts it; ${report.staleSocketRuns} of ${report.runsMs.length} runs replaced a stale socket file.`,
    "",
    "| figure (ms) | runs | median | p95 | worst |",
    "| --- | --- | --- | --- | --- |",
    row("spawn → HealthCheck answered on the socket", report.spawnToHealth),
    row("bridge's own startupMs at listening", report.listeningAt),
    row("bridge CPU time used when it answered", report.cpuAtHealth),
    "",
    `Load average ${report.load.before} before, ${report.load.after} after, on ${report.load.cores} cores.`,
    `Every run: ${report.runsMs.map((ms) => Math.round(ms)).join(", ")} ms. Target: 300 ms.`,
    "",
  ].join("\n");
}
