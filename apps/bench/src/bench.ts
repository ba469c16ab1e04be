import type { BenchRig } from "./bench-rig.js";
import type { BridgeSample } from "./bridge-probe.js";
import { startPacer } from "./pacer.js";
import { findDescendants, readProcess } from "./proc.js";
import { sleep } from "./sleep.js";
import { mib, round, slope } from "./stats.js";
import {
  type Connections,
  measureStep,
  type StepContext,
  type StepResult,
  sayStep,
} from "./step-window.js";
import type { UserPool } from "./user-pool.js";

export type { Connections, StepBridge, StepResult } from "./step-window.js";

/** Options of {@link runLadder}. */
export interface LadderOptions {
  /** Concurrent users per step, ascending; users are added, never removed, between steps. */
  readonly ladder: readonly number[];
  /** Length of each step's measuring window. */
  readonly stepMs: number;
  /** Load before each window, after the step's users joined. */
  readonly warmupMs: number;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
  /** How the pool's users reach the bridge, for the record of each step. */
  readonly connections: Connections;
}

/** A whole ladder: the idle baseline, each step, and the bridge after everyone left. */
export interface LadderResult {
  readonly baseline: BridgeSample;
  readonly steps: StepResult[];
  readonly afterLeave: BridgeSample | undefined;
  /** Why the ladder ended before its last step, or "". */
  readonly stoppedEarly: string;
  /** Least-squares slopes over the steps. */
  readonly perSession: {
    readonly rssMB: number;
    readonly nativeMB: number;
    readonly cpuPctOfCore: number;
  };
}

/** Runs the ladder on a started rig with an empty pool; leaves the pool empty. */
export async function runLadder(
  rig: BenchRig,
  pool: UserPool,
  options: LadderOptions,
): Promise<LadderResult> {
  const { signal, say } = options;
  await rig.probe.sample(); // resets the loop-delay window
  await sleep(1_000, signal);
  const baseline = await rig.probe.sample();
  say(
    `idle bridge: RSS ${mib(baseline.rssBytes).toFixed(1)} MB, heap ${mib(baseline.heapUsedBytes).toFixed(1)} MB, ${baseline.activeHandles} handles`,
  );
  const livekitPids = findDescendants(process.pid, "livekit-server");
  const livekitCpu = () =>
    livekitPids.reduce((sum, pid) => {
      try {
        return sum + readProcess(pid).cpuSeconds;
      } catch {
        return sum;
      }
    }, 0);
  const pacer = startPacer(() => pool.users);
  const steps: StepResult[] = [];
  let stoppedEarly = "";
  const context: StepContext = {
    rig,
    pool,
    pacer,
    livekitCpu,
    dropsSoFar: new Map(),
    connections: options.connections,
    stepMs: options.stepMs,
    signal,
    say,
  };
  try {
    for (const users of options.ladder) {
      if (signal.aborted) break;
      say(`step ${users} users: joining …`);
      try {
        await pool.growTo(users, signal);
      } catch (error) {
        // Report the steps that finished rather than nothing: an overloaded machine is a result.
        stoppedEarly = `joining ${users} users failed: ${error instanceof Error ? error.message : String(error)}`;
        say(`  ${stoppedEarly}`);
        break;
      }
      await sleep(options.warmupMs, signal);
      if (signal.aborted) break;

      const step = await measureStep(context, users);
      steps.push(step);
      sayStep(step, say);
    }
  } finally {
    pacer.stop();
    await pool.closeAll();
  }
  let afterLeave: BridgeSample | undefined;
  if (!signal.aborted) {
    await sleep(3_000, signal);
    afterLeave = await rig.probe.sample();
  }
  const xs = steps.map((s) => s.users);
  return {
    baseline,
    steps,
    afterLeave,
    stoppedEarly,
    perSession: {
      rssMB: round(
        slope(
          xs,
          steps.map((s) => s.bridge.rssMB),
        ),
        2,
      ),
      nativeMB: round(
        slope(
          xs,
          steps.map((s) => s.bridge.nativeMB),
        ),
        2,
      ),
      cpuPctOfCore: round(
        slope(
          xs,
          steps.map((s) => s.bridge.cpuPctOfCore),
        ),
        2,
      ),
    },
  };
}
