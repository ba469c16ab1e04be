import type { BenchRig } from "./bench-rig.js";
import { type CounterWindow, counterWindow } from "./bridge-counters.js";
import type { BridgeSample } from "./bridge-probe.js";
import { type ChirpResult, measureChirpPaths } from "./chirp-probe.js";
import { startPacer } from "./pacer.js";
import { emptyWindow } from "./packet-log.js";
import {
  findDescendants,
  readMachineCpu,
  readProcess,
  readThreadCpu,
  threadCpuPct,
} from "./proc.js";
import { sleep } from "./sleep.js";
import {
  type InsideLatency,
  insideLatency,
  mib,
  type Percentiles,
  percentiles,
  round,
  slope,
} from "./stats.js";
import type { UserPool } from "./user-pool.js";

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

/**
 * How the cloud side reaches the bridge: all users' streams on one HTTP/2 connection
 * (one client, as the deployed cloud shares one grpc channel), or one client and
 * connection per user.
 */
export type Connections = "shared" | "per-user";

/** The bridge process over one step's window. */
export interface StepBridge {
  readonly rssMB: number;
  readonly heapUsedMB: number;
  /** RSS − heapUsed. */
  readonly nativeMB: number;
  readonly externalMB: number;
  readonly activeHandles: number;
  /** CPU time of the bridge process over the window, as % of one core. */
  readonly cpuPctOfCore: number;
  readonly cpuPctPerUser: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** The bridge's CPU by thread ("main (JS)", then rtc-node's and libuv's by name), % of one core. */
  readonly threadsPctOfCore: Record<string, number>;
}

/** One rung of the ladder. */
export interface StepResult {
  readonly users: number;
  readonly connections: Connections;
  readonly windowMs: number;
  readonly bridge: StepBridge;
  /** Room→cloud, per packet, for packets sent in the window. */
  readonly latency: {
    readonly livekitPathMs: Percentiles;
    readonly bridgeAddedMs: Percentiles;
    readonly endToEndMs: Percentiles;
    /**
     * The bridge's own measure (its bridge_audio_latency_seconds histogram) over the
     * window: room audio from its frame event to the stream taking it, and cloud audio
     * from its write to leaving the AudioSource's queue.
     */
    readonly insideToCloudMs: InsideLatency;
    readonly insideToRoomMs: InsideLatency;
    /**
     * What `insideToCloudMs.count` must be: the chunks (frames at the cloud) the bridge
     * received between the two /metrics scrapes its delta spans, by the bridge's own
     * receipt stamp (the frame's timestamp; the bench runs the bridge on this machine's
     * clock). At least those stamped between the first scrape's answer and the second's
     * request, at most those between the first's request and the second's answer (a scrape
     * is taken at some instant within its round trip). Not the window's packets: those are
     * counted by when the glasses sent them, and under load the glasses→bridge path holds
     * back a varying few hundred ms of them, so the backlog at the window's start and end
     * differ. Nor by arrival at the cloud: the bench's own loop lags under load.
     */
    readonly insideToCloudExpected: { readonly atLeast: number; readonly atMost: number };
    /**
     * End to end by chirp, right after the window with the step's load still running:
     * the bridge's path against a direct participant-to-participant one. Undefined when
     * the probe failed (see `chirpError`).
     */
    readonly chirp: ChirpResult | undefined;
    readonly chirpError: string;
  };
  readonly packets: {
    readonly sent: number;
    readonly received: number;
    readonly gaps: number;
    readonly duplicates: number;
    readonly reordered: number;
    readonly sendErrors: number;
    /** Frames at the cloud that were no packet of ours. */
    readonly foreign: number;
  };
  readonly drops: {
    /** GetStatus cloud_dropped_ms, summed over sessions, during the step. */
    readonly bridgeCloudDroppedMs: number;
    /** Client stats: received audio dropped because session.audio was read too slowly. */
    readonly clientReceiveDroppedMs: number;
    /** Client stats: TTS audio dropped in the client's send buffer. */
    readonly clientSendDroppedMs: number;
    /** GetStatus chunks_from_cloud summed (TTS chunks the bridge accepted so far). */
    readonly chunksFromCloud: number;
  };
  readonly playback: {
    readonly sessions: number;
    readonly completed: number;
    readonly failed: number;
    readonly errors: number;
    readonly unimplemented: boolean;
    readonly lastError: string;
  };
  /**
   * GC pauses and rtc-node FFI traffic inside the bridge over the window (with --profile;
   * read from a file the bridge rewrites each second, so the edges are within 1 s).
   */
  readonly inside: CounterWindow | undefined;
  /** The load generator and the machine, to judge whether the figures are the bridge's. */
  readonly load: {
    readonly machineCpuPct: number;
    readonly benchCpuPctOfCore: number;
    readonly livekitCpuPctOfCore: number;
    /** Everything else on the machine (other processes), % of one core. */
    readonly otherCpuPctOfCore: number;
    readonly pacerLateP99Ms: number;
    readonly pacerSkippedTicks: number;
  };
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

function sumStatus(metadata: readonly Readonly<Record<string, string>>[], key: string) {
  return metadata.reduce((sum, m) => sum + (Number(m[key]) || 0), 0);
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
  const dropsSoFar = new Map<string, { bridge: number; receive: number; send: number }>();
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

      await rig.probe.sample(); // starts the loop-delay window
      const start = await rig.probe.sample();
      const machine0 = readMachineCpu();
      const threads0 = readThreadCpu(rig.bridgePid);
      const livekit0 = livekitCpu();
      const bench0 = process.cpuUsage();
      const scrape0 = Date.now();
      const metrics0 = await rig.metrics();
      const scraped0 = Date.now();
      const counters0 = rig.counters();
      pacer.resetLateness();
      const startMs = Date.now();
      await sleep(options.stepMs, signal);
      const endMs = Date.now();
      const scrape1 = Date.now();
      const metrics1 = await rig.metrics();
      const scraped1 = Date.now();
      const end = await rig.probe.sample();
      const counters1 = rig.counters();
      let chirp: ChirpResult | undefined;
      let chirpError = "";
      try {
        chirp = await measureChirpPaths(rig.creds, rig.client, String(users));
      } catch (error) {
        chirpError = error instanceof Error ? error.message : String(error);
        say(`  chirp probe failed: ${chirpError}`);
      }
      const machine1 = readMachineCpu();
      const threads1 = readThreadCpu(rig.bridgePid);
      const livekit1 = livekitCpu();
      const bench1 = process.cpuUsage(bench0);
      const lateness = pacer.lateness();
      const statuses = await Promise.all(
        pool.users.map((u) => u.session.status().then((s) => s.metadata)),
      );
      // Packets sent at the end of the window are still in flight: let them land.
      await sleep(1_500, signal);

      const window = emptyWindow();
      let bridgeDropped = 0;
      let receiveDropped = 0;
      let sendDropped = 0;
      let foreign = 0;
      let framesAtLeast = 0;
      let framesAtMost = 0;
      pool.users.forEach((user, i) => {
        user.packets.collect(startMs, endMs, window);
        framesAtLeast += user.packets.framesReceivedByBridge(scraped0, scrape1);
        framesAtMost += user.packets.framesReceivedByBridge(scrape0, scraped1);
        foreign += user.packets.foreign;
        const before = dropsSoFar.get(user.userId) ?? { bridge: 0, receive: 0, send: 0 };
        const stats = user.session.stats();
        const now = {
          bridge: Number(statuses[i]?.cloud_dropped_ms ?? 0),
          receive: stats.receiveDroppedMs,
          send: stats.sendDroppedMs,
        };
        bridgeDropped += now.bridge - before.bridge;
        receiveDropped += now.receive - before.receive;
        sendDropped += now.send - before.send;
        dropsSoFar.set(user.userId, now);
      });
      const players = pool.users.flatMap((u) => (u.playback ? [u.playback] : []));
      const windowSeconds = (end.atMs - start.atMs) / 1000;
      const cpuPct = (100 * (end.cpuSeconds - start.cpuSeconds)) / windowSeconds;
      const machinePctOfCore =
        (100 * (machine1.busySeconds - machine0.busySeconds)) / windowSeconds;
      const benchPct = (bench1.user + bench1.system) / 1e4 / windowSeconds;
      const livekitPct = (100 * (livekit1 - livekit0)) / windowSeconds;
      const step: StepResult = {
        users: pool.users.length,
        connections: options.connections,
        windowMs: endMs - startMs,
        bridge: {
          rssMB: round(mib(end.rssBytes)),
          heapUsedMB: round(mib(end.heapUsedBytes)),
          nativeMB: round(mib(end.nativeBytes)),
          externalMB: round(mib(end.externalBytes)),
          activeHandles: end.activeHandles,
          cpuPctOfCore: round(cpuPct),
          cpuPctPerUser: round(cpuPct / pool.users.length, 2),
          loopDelayP99Ms: end.loopDelayP99Ms,
          loopDelayMaxMs: end.loopDelayMaxMs,
          threadsPctOfCore: threadCpuPct(threads0, threads1, windowSeconds),
        },
        latency: {
          livekitPathMs: percentiles(window.livekitPathMs),
          bridgeAddedMs: percentiles(window.bridgeAddedMs),
          endToEndMs: percentiles(window.endToEndMs),
          insideToCloudMs: insideLatency(metrics0, metrics1, "to_cloud"),
          insideToRoomMs: insideLatency(metrics0, metrics1, "to_room"),
          insideToCloudExpected: { atLeast: framesAtLeast, atMost: framesAtMost },
          chirp,
          chirpError,
        },
        packets: {
          sent: window.sent,
          received: window.received,
          gaps: window.gaps,
          duplicates: window.duplicates,
          reordered: window.reordered,
          sendErrors: window.sendErrors,
          foreign,
        },
        drops: {
          bridgeCloudDroppedMs: bridgeDropped,
          clientReceiveDroppedMs: Math.round(receiveDropped),
          clientSendDroppedMs: Math.round(sendDropped),
          chunksFromCloud: sumStatus(statuses, "chunks_from_cloud"),
        },
        playback: {
          sessions: players.length,
          completed: players.reduce((n, p) => n + p.completed, 0),
          failed: players.reduce((n, p) => n + p.failed, 0),
          errors: players.reduce((n, p) => n + p.errors, 0),
          unimplemented: players.some((p) => p.unimplemented),
          lastError: players.find((p) => p.lastError)?.lastError ?? "",
        },
        inside: counters0 && counters1 ? counterWindow(counters0, counters1) : undefined,
        load: {
          machineCpuPct: round(
            (100 * (machine1.busySeconds - machine0.busySeconds)) /
              (machine1.totalSeconds - machine0.totalSeconds),
          ),
          benchCpuPctOfCore: round(benchPct),
          livekitCpuPctOfCore: round(livekitPct),
          otherCpuPctOfCore: round(Math.max(0, machinePctOfCore - cpuPct - benchPct - livekitPct)),
          pacerLateP99Ms: lateness.lateP99Ms,
          pacerSkippedTicks: lateness.skippedTicks,
        },
      };
      steps.push(step);
      const b = step.bridge;
      const up = step.latency.insideToCloudMs;
      const down = step.latency.insideToRoomMs;
      if (chirp?.roomToCloud.found && chirp.cloudToRoom.found) {
        say(
          `  chirp, bridge vs direct p50: room→cloud ${chirp.roomToCloud.bridgedMs.p50} vs ${chirp.roomToCloud.directMs.p50} ms, cloud→room ${chirp.cloudToRoom.bridgedMs.p50} vs ${chirp.cloudToRoom.directMs.p50} ms`,
        );
      }
      const gc = step.inside;
      if (gc) {
        say(
          `  inside: GC ${gc.gcCount} pauses, ${gc.gcTotalMs} ms (max so far ${gc.gcMaxMsSoFar} ms); FFI requests ${JSON.stringify(gc.ffiRequests)}; FFI events ${JSON.stringify(gc.ffiEvents)}`,
        );
      }
      say(
        `  ${step.users} users (${step.connections} connection): RSS ${b.rssMB} MB, native ${b.nativeMB} MB, CPU ${b.cpuPctOfCore}% of a core, loop p99 ${b.loopDelayP99Ms} ms, inside the bridge p50/p99 room→cloud ${up.p50}/${up.p99} ms, cloud→room ${down.p50}/${down.p99} ms, ${step.packets.received}/${step.packets.sent} packets, ${step.packets.gaps} gaps`,
      );
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
