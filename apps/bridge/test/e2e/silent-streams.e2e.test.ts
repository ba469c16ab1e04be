import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { e2eGate } from "@mentra/livekit-rig";
import { dominantFrequency, joinParticipant, recordFault, sineTone } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { percentile, probeWhile } from "../support/health-probe.js";
import { openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUser, joinUserAndDevice, useBridgeRig } from "./harness.js";

// Issue #17, finding 3: connections full of HTTP/2 streams that send their headers and
// never a message. Calls are bounded in total (MAX_CALLS, default 4000, with a reserve
// for health checks), and a call whose first message does not come within
// FIRST_MESSAGE_TIMEOUT_MS (default 10 s) ends DeadlineExceeded.

const ATTACKER = fileURLToPath(new URL("../support/attacker.mjs", import.meta.url));
const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RATE = 16_000;
const WINDOW = RATE / 4; // 250 ms

interface StreamsSummary {
  streams: number;
  answered: Record<string, number>;
  firstAnswerMs: Record<string, number>;
  reset: number;
  ms: number;
}

describe.skipIf(gate === "skip")("silent HTTP/2 streams (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  it("300 connections × 100 silent StreamAudio streams: bounded by MAX_CALLS, ended at the first-message deadline; an innocent user's audio keeps flowing and HealthCheck answers", async () => {
    const userId = "u-innocent";
    const { device } = await joinUserAndDevice(rig, cleanups, userId);
    const stream = openCloudStream(rig.client, userId);
    cleanups.push(() => stream.cancel());
    const arrivals: { at: number; samples: Int16Array }[] = [];
    let seen = 0;
    const watcher = setInterval(() => {
      for (; seen < stream.received.length; seen++) {
        const chunk = stream.received[seen];
        if (chunk !== undefined)
          arrivals.push({ at: performance.now(), samples: samplesOf([chunk]) });
      }
    }, 5);
    cleanups.push(async () => clearInterval(watcher));
    const mic = device
      .publishPcm(sineTone({ frequencyHz: 440, sampleRate: RATE, durationMs: 20_000 }), {
        sampleRate: RATE,
      })
      .catch((error: unknown) => error);
    await stream.waitForSamples(RATE, 10_000);
    const heapBefore = process.memoryUsage().heapUsed / 2 ** 20;
    const rssBefore = process.memoryUsage.rss() / 2 ** 20;

    const port = rig.server.address?.port ?? 0;
    const attacker: ChildProcess = spawn(
      process.execPath,
      [ATTACKER, "streams", String(port), "300", "100", "40000"],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    cleanups.push(async () => {
      if (attacker.exitCode === null) attacker.kill("SIGKILL");
    });
    let out = "";
    attacker.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    let attacking = true;
    const attackStart = performance.now();
    let peakCalls = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakCalls = Math.max(peakCalls, rig.server.calls);
      peakRss = Math.max(peakRss, process.memoryUsage.rss() / 2 ** 20);
    }, 50);
    const ended = once(attacker, "exit").then(() => {
      attacking = false;
    });
    const health = await probeWhile(port, 250, () => !attacking);
    await ended;
    clearInterval(sampler);
    const attackEnd = performance.now();
    const summary = JSON.parse(out.trim()) as StreamsSummary;
    const after = await probeWhile(port, 200, () => performance.now() - attackEnd > 1500);
    await sleep(1500);
    const heapAfter = process.memoryUsage().heapUsed / 2 ** 20;
    const rssAfter = process.memoryUsage.rss() / 2 ** 20;
    const callsAfter = rig.server.calls;

    // The innocent user's audio during the attack: no long gap, and the tone throughout.
    const during = arrivals.filter((a) => a.at >= attackStart && a.at <= attackEnd);
    let maxGapMs = 0;
    let maxGapAt = 0;
    for (let i = 1; i < during.length; i++) {
      const gap = (during[i]?.at ?? 0) - (during[i - 1]?.at ?? 0);
      if (gap > maxGapMs) {
        maxGapMs = gap;
        maxGapAt = (during[i - 1]?.at ?? 0) - attackStart;
      }
    }
    const samples = new Int16Array(during.reduce((sum, a) => sum + a.samples.length, 0));
    let offset = 0;
    for (const a of during) {
      samples.set(a.samples, offset);
      offset += a.samples.length;
    }
    let windows = 0;
    let toneWindows = 0;
    for (let start = 0; start + WINDOW <= samples.length; start += WINDOW) {
      windows += 1;
      const hz = dominantFrequency(samples.subarray(start, start + WINDOW), RATE);
      if (Math.abs(hz - 440) < 15) toneWindows += 1;
    }
    const attackMs = attackEnd - attackStart;
    const receivedMs = (samples.length / RATE) * 1000;
    const resourceExhausted = summary.answered[String(Code.ResourceExhausted)] ?? 0;
    const deadlineExceeded = summary.answered[String(Code.DeadlineExceeded)] ?? 0;
    const figures =
      `${summary.streams} streams: ${resourceExhausted} ResourceExhausted (first after ${summary.firstAnswerMs[String(Code.ResourceExhausted)]} ms), ` +
      `${deadlineExceeded} DeadlineExceeded (first after ${summary.firstAnswerMs[String(Code.DeadlineExceeded)]} ms), ${summary.reset} refused by HTTP/2 (REFUSED_STREAM); ` +
      `at most ${peakCalls} calls open; innocent user: ${Math.round(receivedMs)} ms of audio in ${Math.round(attackMs)} ms, ` +
      `tone in ${toneWindows}/${windows} windows of 250 ms, longest gap ${Math.round(maxGapMs)} ms (from ${Math.round(maxGapAt)} ms into the attack); ` +
      `HealthCheck on a new connection during: ${health.times.length} answered (${health.failures.join(", ") || "none failed"}), p50 ${percentile(health.times, 50).toFixed(1)} / ` +
      `max ${Math.max(...health.times).toFixed(1)} ms, ${health.failures.length} failed; after: max ${Math.max(...after.times).toFixed(1)} ms; ` +
      `heap ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MB, RSS ${rssBefore.toFixed(0)} → ${peakRss.toFixed(0)} at most → ${rssAfter.toFixed(0)} MB (bridge and test in one process)`;
    console.log(figures);

    expect(summary.streams).toBe(30_000);
    // 4000 calls, less the 100 kept for health checks, were let in, the rest refused.
    expect(peakCalls).toBeLessThanOrEqual(4000);
    // Past the limit, the first streams on a connection are answered ResourceExhausted;
    // then the connection is told to open no more, and HTTP/2 refuses them (REFUSED_STREAM).
    expect(resourceExhausted).toBeGreaterThan(0);
    expect(resourceExhausted + summary.reset).toBeGreaterThanOrEqual(30_000 - 3900 - 10);
    expect(deadlineExceeded).toBeGreaterThanOrEqual(3800);
    expect(callsAfter).toBeLessThan(10);
    expect(health.failures).toEqual([]);
    expect(after.failures).toEqual([]);
    // Target 100 ms; the attacker, LiveKit, the bridge and the test share 2 cores.
    expect(percentile(health.times, 50)).toBeLessThan(100);
    expect(Math.max(...health.times)).toBeLessThan(2000);
    expect(Math.max(...after.times)).toBeLessThan(100);
    expect(receivedMs).toBeGreaterThan(attackMs - 1500);
    // Nothing is lost, but the 3,900 streams let in arrive in one burst that holds the event
    // loop: the audio stalls for 0.55–2.1 s (measured on this shared 2-core machine) and a
    // few windows around the stall carry the decoder's concealment instead of the tone.
    expect(toneWindows).toBeGreaterThanOrEqual(Math.floor(windows * 0.9));
    expect(maxGapMs).toBeLessThan(3000);
    expect(heapAfter).toBeLessThan(heapBefore + 50);
    expect(stream.received.length).toBeGreaterThan(0);
    expect(
      await Promise.race([stream.ended.then(() => "ended"), sleep(10).then(() => "open")]),
    ).toBe("open");
    void mic;
    recordFault({
      kind: "input",
      what: "300 HTTP/2 connections × 100 StreamAudio streams that send headers and never a message (30,000 streams), beside a user whose device talks",
      expected:
        "at most MAX_CALLS (4000, 100 kept for health checks) let in, the rest ResourceExhausted or REFUSED_STREAM; silent ones DeadlineExceeded at FIRST_MESSAGE_TIMEOUT_MS (10 s); the user's audio keeps flowing; HealthCheck on a new connection within 100 ms",
      observed: figures,
    });
  }, 120_000);

  it("a StreamAudio quiet for three times FIRST_MESSAGE_TIMEOUT_MS after its first message survives and then carries audio", async () => {
    const bridge = await rig.startBridge({ FIRST_MESSAGE_TIMEOUT_MS: "1000" });
    const userId = "u-quiet";
    const room = await joinUser(bridge.client, cleanups, userId);
    const stream = openCloudStream(bridge.client, userId);
    cleanups.push(() => stream.cancel());
    await sleep(3000);
    const state = await Promise.race([
      stream.ended.then((error) => (error === undefined ? "ended OK" : Code[error.code])),
      sleep(10).then(() => "open"),
    ]);
    expect(state).toBe("open");
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(() => device.close());
    const mic = device
      .publishPcm(sineTone({ frequencyHz: 550, sampleRate: RATE, durationMs: 2000 }), {
        sampleRate: RATE,
      })
      .catch((error: unknown) => error);
    await stream.waitForSamples(RATE / 2, 10_000);
    const heard = samplesOf(stream.received);
    const hz = dominantFrequency(heard.subarray(heard.length - WINDOW), RATE);
    expect(Math.abs(hz - 550)).toBeLessThan(15);
    // A silent call on the same bridge does end at the deadline.
    const never = async function* () {
      await sleep(5000);
      yield { userId };
    };
    const t0 = performance.now();
    const silent = await (async () => {
      try {
        for await (const _ of bridge.client.streamAudio(never())) {
          // nothing comes
        }
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
    const silentMs = performance.now() - t0;
    expect(silent?.code).toBe(Code.DeadlineExceeded);
    expect(silentMs).toBeLessThan(2500);
    await mic;
    recordFault({
      kind: "input",
      what: "A StreamAudio that sends its first chunk and then nothing for 3 s, with FIRST_MESSAGE_TIMEOUT_MS=1000",
      expected:
        "the quiet stream stays open and then carries the device's audio; a stream that never sends its first message ends DeadlineExceeded",
      observed: `open after 3000 ms of silence, then carried ${hz.toFixed(0)} Hz (550 sent); a silent stream ended DeadlineExceeded after ${Math.round(silentMs)} ms`,
    });
  }, 40_000);
});
