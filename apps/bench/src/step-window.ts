// What one ladder step measures: the window's readings of the bridge, the packets and the load.
import type { BenchRig } from "./bench-rig.js";
import { type CounterWindow, counterWindow } from "./bridge-counters.js";
import { type ChirpResult, measureChirpPaths } from "./chirp-probe.js";
import { type DropTotals, readStatuses, takeDrops } from "./drop-totals.js";
import type { Pacer } from "./pacer.js";
import { emptyWindow } from "./packet-log.js";
import { combineReadings, type PitchReading } from "./pitch.js";
import { readMachineCpu, readThreadCpu, threadCpuPct } from "./proc.js";
import { sleep } from "./sleep.js";
import {
  type InsideLatency,
  insideLatency,
  mib,
  type Percentiles,
  percentiles,
  round,
} from "./stats.js";
import type { UserPool } from "./user-pool.js";

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
    /** GetStatus cloud_delay_dropped_ms: device audio dropped for standing delay (CLOUD_MAX_DELAY_MS). */
    readonly bridgeCloudDelayDroppedMs: number;
    /** Client stats: received audio dropped because session.audio was read too slowly. */
    readonly clientReceiveDroppedMs: number;
    /** Client stats: TTS audio dropped in the client's send buffer. */
    readonly clientSendDroppedMs: number;
    /** GetStatus chunks_from_cloud summed (TTS chunks the bridge accepted so far). */
    readonly chunksFromCloud: number;
  };
  /**
   * GetStatus to_room_underruns / to_room_underrun_ms, summed over sessions, over the window:
   * the times, and how long in all, an AudioSource ran dry while cloud audio was playing;
   * and to_room_late_dropped_ms, the cloud audio dropped after them to play on schedule.
   */
  readonly underruns: {
    readonly count: number;
    readonly ms: number;
    readonly lateDroppedMs: number;
  };
  /**
   * The same, from the end of the last window to the start of this one: while this step's
   * users joined and warmed up, and while the last step's chirp probe joined.
   */
  readonly underrunsOutside: { readonly count: number; readonly ms: number };
  /**
   * The 300 Hz TTS tone as the listening users' glasses heard it over the window, per
   * utterance (pitch.ts): lowest and highest over all of them.
   */
  readonly heard: PitchReading & { readonly listeners: number };
  /**
   * The same tone from a peer straight into LiveKit, as the first listener's glasses heard it
   * (direct-tone.ts): the pitch without the bridge. Undefined without a listener.
   */
  readonly heardDirect: PitchReading | undefined;
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

/** What a ladder keeps across its steps. */
export interface StepContext {
  readonly rig: BenchRig;
  readonly pool: UserPool;
  readonly pacer: Pacer;
  /** CPU seconds of the livekit-server processes so far. */
  readonly livekitCpu: () => number;
  /** By user id; updated by each step. */
  readonly dropsSoFar: Map<string, DropTotals>;
  readonly connections: Connections;
  readonly stepMs: number;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
}

/** Measures one step's window on the pool's users, who joined and warmed up already. */
export async function measureStep(ctx: StepContext, users: number): Promise<StepResult> {
  const { rig, pool, pacer, signal, say } = ctx;
  await rig.probe.sample(); // starts the loop-delay window
  const start = await rig.probe.sample();
  const machine0 = readMachineCpu();
  const threads0 = readThreadCpu(rig.bridgePid);
  const livekit0 = ctx.livekitCpu();
  const bench0 = process.cpuUsage();
  const scrape0 = Date.now();
  const metrics0 = await rig.metrics();
  const scraped0 = Date.now();
  const counters0 = rig.counters();
  const outside = takeDrops(ctx, await readStatuses(ctx.pool));
  pacer.resetLateness();
  const hearing = pool.users.flatMap((u) => (u.listen ? [u.listen()] : []));
  const startMs = Date.now();
  await sleep(ctx.stepMs, signal);
  const endMs = Date.now();
  const readings = await Promise.all(hearing.map((h) => h.stop()));
  const heard = {
    listeners: readings.length,
    ...combineReadings(readings.map((r) => r.bridged)),
  };
  const heardDirect = readings.find((r) => r.direct !== undefined)?.direct;
  const scrape1 = Date.now();
  const metrics1 = await rig.metrics();
  const scraped1 = Date.now();
  const end = await rig.probe.sample();
  const counters1 = rig.counters();
  const statuses = await readStatuses(pool);
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
  const livekit1 = ctx.livekitCpu();
  const bench1 = process.cpuUsage(bench0);
  const lateness = pacer.lateness();
  // Packets sent at the end of the window are still in flight: let them land.
  await sleep(1_500, signal);

  const totals = userTotals(ctx, statuses, {
    startMs,
    endMs,
    scrape0,
    scraped0,
    scrape1,
    scraped1,
  });
  const window = totals.window;
  const players = pool.users.flatMap((u) => (u.playback ? [u.playback] : []));
  const windowSeconds = (end.atMs - start.atMs) / 1000;
  const cpuPct = (100 * (end.cpuSeconds - start.cpuSeconds)) / windowSeconds;
  const machinePctOfCore = (100 * (machine1.busySeconds - machine0.busySeconds)) / windowSeconds;
  const benchPct = (bench1.user + bench1.system) / 1e4 / windowSeconds;
  const livekitPct = (100 * (livekit1 - livekit0)) / windowSeconds;
  return {
    users: pool.users.length,
    connections: ctx.connections,
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
      insideToCloudExpected: { atLeast: totals.framesAtLeast, atMost: totals.framesAtMost },
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
      foreign: totals.foreign,
    },
    drops: {
      bridgeCloudDroppedMs: totals.grown.bridge,
      bridgeCloudDelayDroppedMs: totals.grown.delay,
      clientReceiveDroppedMs: Math.round(totals.grown.receive),
      clientSendDroppedMs: Math.round(totals.grown.send),
      chunksFromCloud: sumStatus(statuses, "chunks_from_cloud"),
    },
    underruns: {
      count: totals.grown.underruns,
      ms: totals.grown.underrunMs,
      lateDroppedMs: totals.grown.lateDropped,
    },
    underrunsOutside: { count: outside.underruns, ms: outside.underrunMs },
    heard,
    heardDirect,
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
}

/** The window's edges: the packets' by send time, and each /metrics scrape's round trip. */
interface WindowTimes {
  readonly startMs: number;
  readonly endMs: number;
  /** Request and answer of the first scrape. */
  readonly scrape0: number;
  readonly scraped0: number;
  /** Request and answer of the second scrape. */
  readonly scrape1: number;
  readonly scraped1: number;
}

/** The window's packets and frames over all users, and their drops over the window. */
function userTotals(
  ctx: StepContext,
  statuses: readonly Readonly<Record<string, string>>[],
  t: WindowTimes,
) {
  const window = emptyWindow();
  let foreign = 0;
  let framesAtLeast = 0;
  let framesAtMost = 0;
  for (const user of ctx.pool.users) {
    user.packets.collect(t.startMs, t.endMs, window);
    framesAtLeast += user.packets.framesReceivedByBridge(t.scraped0, t.scrape1);
    framesAtMost += user.packets.framesReceivedByBridge(t.scrape0, t.scraped1);
    foreign += user.packets.foreign;
  }
  return { window, grown: takeDrops(ctx, statuses), foreign, framesAtLeast, framesAtMost };
}

/** The step's lines of progress: chirp and inside figures when there are, then the summary. */
export function sayStep(step: StepResult, say: (line: string) => void): void {
  const b = step.bridge;
  const up = step.latency.insideToCloudMs;
  const down = step.latency.insideToRoomMs;
  const chirp = step.latency.chirp;
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
    `  ${step.users} users (${step.connections} connection): RSS ${b.rssMB} MB, native ${b.nativeMB} MB, CPU ${b.cpuPctOfCore}% of a core, loop p99 ${b.loopDelayP99Ms} ms, inside the bridge p50/p99 room→cloud ${up.p50}/${up.p99} ms, cloud→room ${down.p50}/${down.p99} ms, ${step.packets.received}/${step.packets.sent} packets, ${step.packets.gaps} gaps, ${step.drops.bridgeCloudDelayDroppedMs} ms dropped for standing delay, ${step.underruns.count} underruns (${step.underruns.ms} ms, ${step.underruns.lateDroppedMs} ms dropped to play on time; ${step.underrunsOutside.count} (${step.underrunsOutside.ms} ms) before the window, while users joined), 300 Hz TTS heard at ${step.heard.lowestHz}–${step.heard.highestHz} Hz (${step.heard.utterances} utterances, ${step.heard.listeners} listening; the tone straight from a peer ${step.heardDirect ? `${step.heardDirect.lowestHz}–${step.heardDirect.highestHz} Hz` : "-"})`,
  );
}

function sumStatus(metadata: readonly Readonly<Record<string, string>>[], key: string) {
  return metadata.reduce((sum, m) => sum + (Number(m[key]) || 0), 0);
}
