import { createDeviceSender, joinParticipant, type TestParticipant } from "@mentra/test-kit";
import type { BenchRig } from "./bench-rig.js";
import type { BridgeSample } from "./bridge-probe.js";
import { startPacer } from "./pacer.js";
import { emptyWindow, PACKET_SAMPLES } from "./packet-log.js";
import { sleep } from "./sleep.js";
import { mib, round, slope } from "./stats.js";
import type { UserPool } from "./user-pool.js";
import type { Voices } from "./voices.js";

/** Options of {@link runSoak}. */
export interface SoakOptions {
  readonly runId: string;
  readonly users: number;
  readonly soakMs: number;
  readonly sampleEveryMs: number;
  readonly warmupMs: number;
  readonly cycles: number;
  readonly voices: Voices;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
}

/** One sample of the soak. */
export interface SoakSample {
  readonly minutes: number;
  readonly rssMB: number;
  readonly nativeMB: number;
  readonly heapUsedMB: number;
  readonly activeHandles: number;
  readonly activeSessions: number;
}

/** What `npm run soak` measured. */
export interface SoakResult {
  /** The bridge with no session, after a warm-up that ran the full load once. */
  readonly baseline: BridgeSample;
  readonly samples: SoakSample[];
  /** Least-squares slopes over the soak samples. */
  readonly slopeMBPerHour: {
    readonly rss: number;
    readonly native: number;
    readonly heapUsed: number;
  };
  readonly packets: {
    readonly sent: number;
    readonly received: number;
    readonly gaps: number;
    readonly duplicates: number;
  };
  readonly afterSoak: BridgeSample | undefined;
  readonly churn: {
    readonly cycles: number;
    readonly failures: number;
    readonly lastError: string;
    readonly durationMs: number;
    readonly final: BridgeSample | undefined;
    /** (final RSS − baseline RSS) / baseline RSS, %. */
    readonly rssDeltaPct: number;
    /** final handles − baseline handles. */
    readonly handlesDelta: number;
  };
}

const CHURN_LANES = 5;
const CYCLE_TIMEOUT_MS = 15_000;

const toSample = (s: BridgeSample, startMs: number): SoakSample => ({
  minutes: round((s.atMs - startMs) / 60_000, 3),
  rssMB: round(mib(s.rssBytes), 2),
  nativeMB: round(mib(s.nativeBytes), 2),
  heapUsedMB: round(mib(s.heapUsedBytes), 2),
  activeHandles: s.activeHandles,
  activeSessions: s.activeSessions,
});

/**
 * Waits (bounded) until the bridge reports no sessions and `handles` at most, forces a full
 * garbage collection, then samples: the same footing for the baseline and the final figures.
 */
async function settle(rig: BenchRig, handles: number | undefined, signal: AbortSignal) {
  const deadline = Date.now() + 15_000;
  let sample = await rig.probe.sample();
  while (Date.now() < deadline && !signal.aborted) {
    if (sample.activeSessions === 0 && (handles === undefined || sample.activeHandles <= handles))
      break;
    await sleep(500, signal);
    sample = await rig.probe.sample();
  }
  await sleep(2_000, signal);
  await rig.collectGarbage();
  await sleep(1_000, signal);
  return rig.probe.sample();
}

/** One join → first audio → leave, for a fresh user in a lane's room. */
async function churnCycle(
  rig: BenchRig,
  room: string,
  device: string,
  userId: string,
  tts: Int16Array,
) {
  const session = await rig.client.join({
    userId,
    roomName: room,
    targetIdentity: device,
    pcmByteOrder: "little",
  });
  const frames = session.audio[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    session.send(tts, { trackId: 2, sampleRate: 24_000 }); // publishes the TTS track
    const first = await Promise.race([
      frames.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no audio within 15 s")), CYCLE_TIMEOUT_MS);
      }),
    ]);
    if (first.done) throw new Error("the session's audio ended before the first frame");
  } finally {
    clearTimeout(timer);
    await session.leave("churn");
    await frames.return?.();
  }
}

/** Runs warm-up, soak and churn on a started rig with an empty pool; leaves the pool empty. */
export async function runSoak(
  rig: BenchRig,
  pool: UserPool,
  options: SoakOptions,
): Promise<SoakResult> {
  const { signal, say } = options;
  const lanes: TestParticipant[] = [];
  const laneTickers: { tick(): void }[] = [];
  const pacer = startPacer(() => [...pool.users, ...laneTickers]);
  try {
    say(`warm-up: ${options.users} users for ${options.warmupMs / 1000} s, then everyone leaves`);
    await pool.growTo(options.users, signal);
    await sleep(options.warmupMs, signal);
    await pool.closeAll();
    await rig.probe.sample();
    const baseline = await settle(rig, undefined, signal);
    say(`baseline: RSS ${mib(baseline.rssBytes).toFixed(1)} MB, ${baseline.activeHandles} handles`);

    say(
      `soak: ${options.users} users for ${(options.soakMs / 60_000).toFixed(1)} min, sampling every ${options.sampleEveryMs / 1000} s`,
    );
    await pool.growTo(options.users, signal);
    const startMs = Date.now();
    const samples: SoakSample[] = [];
    const sampleCount = Math.max(2, Math.floor(options.soakMs / options.sampleEveryMs));
    for (let i = 1; i <= sampleCount && !signal.aborted; i++) {
      await sleep(startMs + i * options.sampleEveryMs - Date.now(), signal);
      if (signal.aborted) break;
      const sample = toSample(await rig.probe.sample(), startMs);
      samples.push(sample);
      if (i % 6 === 0 || i === sampleCount) {
        say(
          `  ${sample.minutes.toFixed(1)} min: RSS ${sample.rssMB} MB, RSS−heap ${sample.nativeMB} MB, ${sample.activeHandles} handles`,
        );
      }
    }
    const endMs = Date.now();
    await sleep(1_500, signal);
    const window = emptyWindow();
    for (const user of pool.users) user.packets.collect(startMs, endMs, window);
    await pool.closeAll();
    const afterSoak = signal.aborted
      ? undefined
      : await settle(rig, baseline.activeHandles, signal);

    say(`churn: ${options.cycles} join/leave cycles in ${CHURN_LANES} lanes`);
    for (let lane = 0; lane < CHURN_LANES && !signal.aborted; lane++) {
      const device = await joinParticipant(
        rig.creds,
        `${options.runId}-churn${lane}`,
        `glasses-churn${lane}`,
      );
      lanes.push(device);
      const packet = new Uint8Array(options.voices.speech16k.slice(0, PACKET_SAMPLES).buffer);
      // The phone's packets (sequence byte, lossy channel); the ticker paces them.
      const phone = createDeviceSender((p, o) => device.sendData(p, o), { paced: false });
      laneTickers.push({ tick: () => void phone.send(packet).catch(() => {}) });
    }
    const tts = options.voices.tts24k.subarray(0, 24_000 / 5);
    let started = 0;
    let failures = 0;
    let lastError = "";
    const churnStart = Date.now();
    await Promise.all(
      lanes.map(async (_device, lane) => {
        while (started < options.cycles && !signal.aborted) {
          const n = started++;
          await churnCycle(
            rig,
            `${options.runId}-churn${lane}`,
            `glasses-churn${lane}`,
            `${options.runId}-c${n}`,
            tts,
          ).catch((error: unknown) => {
            failures++;
            lastError = error instanceof Error ? error.message : String(error);
          });
          if (n % 100 === 99) say(`  ${n + 1} cycles`);
        }
      }),
    );
    const durationMs = Date.now() - churnStart;
    laneTickers.length = 0;
    await Promise.allSettled(lanes.splice(0).map((device) => device.close()));
    const final = signal.aborted ? undefined : await settle(rig, baseline.activeHandles, signal);
    return {
      baseline,
      samples,
      slopeMBPerHour: {
        rss: round(
          slope(
            samples.map((s) => s.minutes / 60),
            samples.map((s) => s.rssMB),
          ),
          2,
        ),
        native: round(
          slope(
            samples.map((s) => s.minutes / 60),
            samples.map((s) => s.nativeMB),
          ),
          2,
        ),
        heapUsed: round(
          slope(
            samples.map((s) => s.minutes / 60),
            samples.map((s) => s.heapUsedMB),
          ),
          2,
        ),
      },
      packets: {
        sent: window.sent,
        received: window.received,
        gaps: window.gaps,
        duplicates: window.duplicates,
      },
      afterSoak,
      churn: {
        cycles: Math.min(started, options.cycles),
        failures,
        lastError,
        durationMs,
        final,
        rssDeltaPct: final
          ? round((100 * (final.rssBytes - baseline.rssBytes)) / baseline.rssBytes)
          : 0,
        handlesDelta: final ? final.activeHandles - baseline.activeHandles : 0,
      },
    };
  } finally {
    pacer.stop();
    await pool.closeAll();
    await Promise.allSettled(lanes.map((device) => device.close()));
  }
}
