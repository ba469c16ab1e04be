import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type DeviceFarm,
  FARM_BLOCK_SAMPLES,
  joinParticipant,
  listParticipantIdentities,
  recordFault,
  startDeviceFarm,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinsInFlightFor } from "../../src/security/join-limits.js";
import { BRIDGE_MAIN, startBridgeProcess } from "../support/bridge-process.js";
import { uniqueRoom } from "./harness.js";
import { quantiles, startHealthProbe } from "./health-probe.js";

// Issue 17, finding 4: a burst of 200 JoinRooms (MAX_SESSIONS 20) against the built
// bridge process must not starve a running session: its device audio keeps arriving at
// the cloud (checked by content, block numbers) and HealthCheck answers on new
// connections; afterwards no ghost is left in LiveKit and the descriptors come back.

const gate = await e2eGate();
const ATTACKER = fileURLToPath(new URL("../support/attacker.mjs", import.meta.url));
const BURST = 200;
const MAX_SESSIONS = 20;
/** The target for the innocent user's largest pause in delivery (issue 17: ≤ 40 ms). */
const TARGET_GAP_MS = 40;

interface Arrival {
  readonly at: number;
  readonly samples: Int16Array;
}

const descriptorsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** Descriptors by kind (socket, anon_inode:[eventfd], pipe, file), for the report. */
function descriptorKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  const protocolOf = new Map<string, string>();
  for (const proto of ["tcp", "tcp6", "udp", "udp6", "unix"]) {
    try {
      const lines = readFileSync(`/proc/${pid}/net/${proto}`, "utf8").split("\n").slice(1);
      for (const line of lines) {
        const cols = line.trim().split(/\s+/);
        const inode = proto === "unix" ? cols[6] : cols[9];
        if (inode !== undefined) protocolOf.set(inode, proto);
      }
    } catch {}
  }
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = "gone";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
        .replace(/\[\d+\]$/, "")
        .replace(/^\/.*/, "file");
    } catch {}
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`))?.[1];
    if (inode !== undefined) target = `socket:${protocolOf.get(inode) ?? "other"}`;
    kinds[target] = (kinds[target] ?? 0) + 1;
  }
  return kinds;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startBurstBridge(livekit: LiveKitRig, env: Record<string, string>) {
  // BURST_PROFILE_DIR=/some/dir writes the bridge's CPU profile there (how the 200 ms
  // event-loop block of 200 JoinRooms handled in one socket read was found).
  const profile = process.env.BURST_PROFILE_DIR;
  const args = profile
    ? ["--cpu-prof", `--cpu-prof-dir=${profile}`, "--cpu-prof-interval=500", BRIDGE_MAIN]
    : [BRIDGE_MAIN];
  const bridge = await startBridgeProcess({
    args,
    env: {
      NODE_ENV: "production",
      LIVEKIT_URL: livekit.url,
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      LOG_LEVEL: "info",
      ...env,
    },
    keepChars: 20_000,
  });
  const url = `http://127.0.0.1:${bridge.port}`;
  return {
    ...bridge,
    url,
    client: createClient(LiveKitBridge, createGrpcTransport({ baseUrl: url })),
  };
}

/** The cloud's StreamAudio for a user, recording when each chunk arrived. */
function recordStream(
  client: ReturnType<typeof createClient<typeof LiveKitBridge>>,
  userId: string,
) {
  const controller = new AbortController();
  const arrivals: Arrival[] = [];
  async function* requests() {
    yield { userId, sampleRate: 16_000 };
    await new Promise((resolve) => controller.signal.addEventListener("abort", resolve));
  }
  const ended = (async () => {
    try {
      for await (const chunk of client.streamAudio(requests(), { signal: controller.signal })) {
        const bytes = chunk.pcmData;
        const samples = new Int16Array(bytes.byteLength / 2);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
        arrivals.push({ at: performance.now(), samples });
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return {
    arrivals,
    async close() {
      controller.abort();
      await ended;
    },
  };
}

/**
 * A participant of the test's own in the innocent room, stamping each of the device's data
 * packets as LiveKit forwards it: the same packets on a path without the bridge, so that a
 * pause at the cloud can be told apart from one LiveKit (or the device) made.
 */
async function watchDirectPath(
  creds: Parameters<typeof joinParticipant>[0],
  room: string,
): Promise<{ arrivals: number[]; close(): Promise<void> }> {
  const watcher = await joinParticipant(creds, room, "direct-watcher");
  const arrivals: number[] = [];
  let open = true;
  const loop = (async () => {
    while (open) {
      try {
        await watcher.nextData(250);
        arrivals.push(performance.now());
      } catch {}
    }
  })();
  return {
    arrivals,
    async close() {
      open = false;
      await loop;
      await watcher.close();
    },
  };
}

/** The largest pause between two stamps within [fromMs, toMs], and when it ended. */
function largestPause(stamps: readonly number[], fromMs: number, toMs: number) {
  const inWindow = stamps.filter((at) => at >= fromMs && at <= toMs);
  let ms = 0;
  let endedAt = fromMs;
  for (let i = 1; i < inWindow.length; i++) {
    const gap = (inWindow[i] ?? 0) - (inWindow[i - 1] ?? 0);
    if (gap > ms) {
      ms = gap;
      endedAt = inWindow[i] ?? fromMs;
    }
  }
  return { ms, endedAt, count: inWindow.length };
}

/**
 * Checks the device's numbered 20 ms blocks (first sample = number) arrived in order,
 * none lost or doubled, and measures the largest pause between two arrivals in a window.
 */
function judgeDelivery(arrivals: readonly Arrival[], fromMs: number, toMs: number) {
  let expected: number | undefined;
  let lost = 0;
  let doubled = 0;
  let blocks = 0;
  let offset = 0;
  for (const { samples } of arrivals) {
    for (
      let i = (FARM_BLOCK_SAMPLES - (offset % FARM_BLOCK_SAMPLES)) % FARM_BLOCK_SAMPLES;
      i < samples.length;
      i += FARM_BLOCK_SAMPLES
    ) {
      const number = samples[i] ?? 0;
      blocks++;
      if (expected !== undefined && number !== expected) {
        if (number < expected) doubled++;
        else lost += number - expected;
      }
      expected = (number + 1) % 30_000;
    }
    offset += samples.length;
  }
  const pause = largestPause(
    arrivals.map((a) => a.at),
    fromMs,
    toMs,
  );
  return {
    blocks,
    lost,
    doubled,
    largestGapMs: pause.ms,
    // When the largest pause ended, from the window's start.
    largestGapAtMs: pause.endedAt - fromMs,
    chunks: pause.count,
  };
}

describe.skipIf(gate === "skip")(
  "a burst of JoinRooms beside a running session (bridge process, real LiveKit)",
  () => {
    let livekit: LiveKitRig;
    let farm: DeviceFarm;
    let bridge: Awaited<ReturnType<typeof startBurstBridge>>;

    beforeAll(async () => {
      livekit = await startLiveKit({ isolate: "on" });
      farm = await startDeviceFarm();
      bridge = await startBurstBridge(livekit, { MAX_SESSIONS: String(MAX_SESSIONS) });
    }, 60_000);
    afterAll(async () => {
      await bridge?.stop();
      await farm?.close();
      await livekit?.close();
    });

    it(`${BURST} parallel JoinRooms (MAX_SESSIONS ${MAX_SESSIONS}): the running session's audio keeps flowing, HealthCheck answers, no ghost is left`, async () => {
      const creds = { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret };
      const room = uniqueRoom("u-innocent");
      const join = await bridge.client.joinRoom({
        userId: "u-innocent",
        roomName: room,
        targetIdentity: "glasses",
      });
      expect(join.success).toBe(true);
      await farm.join("innocent", creds, room, "glasses");
      const direct = await watchDirectPath(creds, room);
      const stream = recordStream(bridge.client, "u-innocent");
      await sleep(500);
      await farm.talk({ blocksPerPacket: 1, maxMs: 60_000 });
      await sleep(2_000);
      const fdBefore = descriptorsOf(bridge.pid);

      // Baseline: 2 s of delivery with nothing else going on.
      const baseFrom = performance.now();
      const baseProbe = startHealthProbe(bridge.url);
      await sleep(2_000);
      const baseHealth = await baseProbe.stop();
      const baseTo = performance.now();
      const baseline = judgeDelivery(stream.arrivals, baseFrom, baseTo);

      // The burst, from a process of its own (one HTTP/2 connection, as a cloud would): this
      // process stamps the arrivals, and its own stalls would read as the bridge's.
      const prefix = uniqueRoom("u-burst");
      const users = Array.from({ length: BURST }, (_, i) => ({
        userId: `${prefix}-${i}`,
        room: `${prefix}-room-${i}`,
      }));
      const probe = startHealthProbe(bridge.url);
      const ownLoop = monitorEventLoopDelay({ resolution: 5 });
      ownLoop.enable();
      const burstFrom = performance.now();
      const attacker = spawn(
        process.execPath,
        [ATTACKER, "joins", String(bridge.port), String(BURST), prefix],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      // Its JoinRooms end by the bridge's own deadlines (JOIN_QUEUE_TIMEOUT_MS 10 s); this
      // bounds it if they do not.
      const bound = setTimeout(() => attacker.kill("SIGKILL"), 60_000);
      let out = "";
      attacker.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      const [exitCode] = (await once(attacker, "exit")) as [number | null];
      clearTimeout(bound);
      expect(exitCode).toBe(0);
      const answered = JSON.parse(out.trim()) as { outcomes: Record<string, string> };
      const outcomes = users.map((u) => answered.outcomes[u.userId] ?? "none");
      const burstMs = performance.now() - burstFrom;
      await sleep(1_000);
      const health = await probe.stop();
      const burstTo = performance.now();
      ownLoop.disable();
      const ownLoopMaxMs = ownLoop.max / 1e6;
      const during = judgeDelivery(stream.arrivals, burstFrom, burstTo);
      const directPause = largestPause(direct.arrivals, burstFrom, burstTo);
      const directBaseline = largestPause(direct.arrivals, baseFrom, baseTo);
      const tally: Record<string, number> = {};
      for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
      const joined = users.filter((_, i) => outcomes[i] === "joined");
      const loopMax = quantiles(health.samples.map((s) => s.loopMaxMs)).max;
      const slowestSend =
        (await farm.sends(Date.now() - (burstTo - burstFrom), Date.now())).innocent?.slowestMs ?? 0;

      // Everyone leaves; no bridge participant is left in any burst room; descriptors return.
      await Promise.all(joined.map((u) => bridge.client.leaveRoom({ userId: u.userId })));
      await sleep(2_000);
      const lists = await Promise.all(users.map((u) => listParticipantIdentities(creds, u.room)));
      const ghosts = lists.flat();
      let fdAfter = descriptorsOf(bridge.pid);
      // Issue 17: descriptors come back within 10 s (the 2 s above included).
      const fdDeadline = Date.now() + 8_000;
      while (fdAfter > fdBefore + 10 && Date.now() < fdDeadline) {
        await sleep(250);
        fdAfter = descriptorsOf(bridge.pid);
      }
      await stream.close();
      await direct.close();

      const summary = `${tally.joined ?? 0} joined, outcomes ${JSON.stringify(tally)} in ${Math.round(burstMs)} ms; innocent user's delivery: largest pause ${Math.round(during.largestGapMs)} ms during the burst (ending ${Math.round(during.largestGapAtMs)} ms after it began) (baseline ${Math.round(baseline.largestGapMs)} ms), the same packets straight from LiveKit to a participant of the test: largest pause ${Math.round(directPause.ms)} ms, ending ${Math.round(directPause.endedAt - burstFrom)} ms after the burst began (baseline ${Math.round(directBaseline.ms)} ms, ${directPause.count} packets), ${during.blocks} blocks, ${during.lost} lost, ${during.doubled} doubled; device's slowest send ${Math.round(slowestSend)} ms; HealthCheck on new connections p50 ${health.p50.toFixed(1)} ms, p99 ${health.p99.toFixed(1)} ms, max ${health.max.toFixed(1)} ms (${health.count} calls; baseline p99 ${baseHealth.p99.toFixed(1)} ms); bridge event-loop delay max ${loopMax.toFixed(1)} ms, the measuring process's ${ownLoopMaxMs.toFixed(1)} ms; ghosts ${ghosts.length}; bridge descriptors ${fdBefore} before, ${fdAfter} after ${JSON.stringify(descriptorKinds(bridge.pid))}`;
      console.log(`[join-burst] ${summary}`);

      expect(tally.joined ?? 0).toBeGreaterThanOrEqual(1);
      expect((tally.joined ?? 0) + 1).toBeLessThanOrEqual(MAX_SESSIONS);
      expect(during.lost).toBe(0);
      expect(during.doubled).toBe(0);
      expect(during.chunks).toBeGreaterThan(((burstTo - burstFrom) / 20) * 0.8);
      // Targets (issue 17): HealthCheck p99 < 100 ms and no pause over 40 ms. On this 2-core
      // machine, with connects at once limited to half the cores (1): pause 38-44 ms, the
      // same packets straight from LiveKit 29-41 ms, HealthCheck p99 9-32 ms (with 4 at once:
      // 104-108 ms and p99 38-40 ms). The bounds leave room for a CI machine's noise.
      expect(health.p99).toBeLessThan(100);
      expect(loopMax).toBeLessThan(500);
      expect(ghosts).toEqual([]);
      // A ghost held ~80 descriptors (16,376 for 171 ghosts); a left room holds none. Before
      // ICE gathered once (room-link.ts), ~197 stayed while the innocent user's room was open.
      expect(fdAfter).toBeLessThanOrEqual(fdBefore + 10);
      expect(during.largestGapMs).toBeLessThan(150);

      recordFault({
        kind: "fault",
        what: `${BURST} parallel JoinRooms for new users (MAX_SESSIONS ${MAX_SESSIONS}, MAX_JOINS_IN_FLIGHT by default ${joinsInFlightFor()}, half the cores) beside a running session, against the bridge process`,
        expected: `the running session's device audio arrives complete (block numbers: none lost or doubled); its largest pause (target ${TARGET_GAP_MS} ms; bounded at 150 ms) printed beside the same packets' pause straight from LiveKit; HealthCheck on a new connection p99 under 100 ms; no ghost participant afterwards; descriptors come back within 10 s`,
        observed: summary,
      });
    }, 120_000);
  },
);
