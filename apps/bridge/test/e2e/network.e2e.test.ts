import type { NetworkFaults } from "@mentra/livekit-rig";
import { e2eGate } from "@mentra/livekit-rig";
import { dominantFrequency, recordFault, sineTone } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppOnRig, startAppOnRig } from "./app-on-rig.js";
import { leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, useBridgeRig } from "./harness.js";
import { recordTrack } from "./track-recorder.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WINDOW_MS = 250;
const MIC_HZ = 440;
const SPEAKER_HZ = 660;

/** Audio heard in one window of wall-clock time. */
interface Window {
  readonly at: number;
  readonly heard: boolean;
}

/** Splits timed blocks into windows and says where the expected tone was heard. */
function windows(blocks: readonly { at: number; samples: Int16Array }[], hz: number): Window[] {
  const byWindow = new Map<number, Int16Array[]>();
  for (const block of blocks) {
    const w = Math.floor(block.at / WINDOW_MS);
    byWindow.set(w, [...(byWindow.get(w) ?? []), block.samples]);
  }
  return [...byWindow]
    .sort((a, b) => a[0] - b[0])
    .map(([w, parts]) => {
      const all = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        all.set(part, offset);
        offset += part.length;
      }
      let energy = 0;
      for (const s of all) energy += s * s;
      const rms = Math.sqrt(energy / Math.max(1, all.length)) / 32768;
      const heard =
        all.length >= 1024 && rms > 0.1 && Math.abs(dominantFrequency(all, 16_000) - hz) < 5;
      return { at: w * WINDOW_MS, heard };
    });
}

/** Share of windows in [from, to) where the tone was heard. */
function heardShare(ws: readonly Window[], from: number, to: number): number {
  const inside = ws.filter((w) => w.at >= from && w.at + WINDOW_MS <= to);
  return inside.filter((w) => w.heard).length / Math.max(1, inside.length);
}

/** End of the first window at or after `from` that starts 4 windows running with the tone. */
function recoveredAt(ws: readonly Window[], from: number): number | undefined {
  for (let i = 0; i + 3 < ws.length; i++) {
    const w = ws[i];
    if (w === undefined || w.at < from) continue;
    if (ws.slice(i, i + 4).every((x) => x.heard)) return w.at + WINDOW_MS;
  }
  return undefined;
}

describe.skipIf(gate === "skip")(
  "network trouble between the bridge and LiveKit (test namespace)",
  () => {
    let rig: BridgeRig;
    // The whole app (as `npm start` wires it), for its /metrics, on the rig's LiveKit.
    let app: AppOnRig;
    const cleanups = useBridgeRig({}, (started) => {
      rig = started;
    });
    beforeAll(async () => {
      app = await startAppOnRig(rig.livekit, { ROOM_STATS_INTERVAL_MS: "250" });
    });
    afterAll(async () => {
      await app?.close();
    });

    /**
     * Carries a tone each way for 13 s — device microphone → cloud, cloud → device
     * speaker — and applies `fault` from 3 s to 8 s. Returns what each side heard, in
     * windows of wall-clock time since the start, and the session's figures at the end.
     */
    async function underFault(
      userId: string,
      fault: { apply(n: NetworkFaults): Promise<void>; lift(n: NetworkFaults): Promise<void> },
    ) {
      const network = rig.livekit.network;
      if (network === undefined)
        throw new Error("the e2e rig is isolated, so it has network faults");
      cleanups.push(() => network.clear());
      const { device } = await joinUserAndDevice(
        { client: app.grpc, creds: rig.creds },
        cleanups,
        userId,
      );
      const stream = openCloudStream(app.grpc, userId);
      cleanups.push(() => stream.cancel());
      const speaker = recordTrack(device, `cloud-agent:${userId}`, "speaker", 16_000);
      const start = Date.now();
      const mic = device.publishPcm(
        sineTone({ frequencyHz: MIC_HZ, sampleRate: 16_000, durationMs: 14_000 }),
        { sampleRate: 16_000 },
      );
      const chunk = leBytes(
        sineTone({ frequencyHz: SPEAKER_HZ, sampleRate: 16_000, durationMs: 100 }),
      );
      let faultAt = 0;
      let liftedAt = 0;
      let midStatus: Awaited<ReturnType<typeof app.grpc.getStatus>> | undefined;
      let midMetrics = "";
      for (let i = 0; i < 130; i++) {
        stream.send({ pcmData: chunk, sampleRate: 16_000, channels: 1 });
        if (i === 30) {
          faultAt = Date.now() - start;
          await fault.apply(network);
        }
        if (i === 75) {
          midStatus = await app.grpc.getStatus({ userId });
          midMetrics = await (await fetch(`${app.url}/metrics`)).text();
        }
        if (i === 80) {
          liftedAt = Date.now() - start;
          await fault.lift(network);
        }
        await sleep(start + (i + 1) * 100 - Date.now());
      }
      await mic;
      await sleep(600); // at least two statistics reads after the end
      const toCloud = windows(
        stream.received.map((c) => ({
          at: Number(c.timestampMs) - start,
          samples: samplesOf([c]),
        })),
        MIC_HZ,
      );
      const toDevice = windows(
        speaker.timeline().map((b) => ({ at: b.at - start, samples: b.samples })),
        SPEAKER_HZ,
      );
      await speaker.stop();
      const status = await app.grpc.getStatus({ userId });
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      return { faultAt, liftedAt, toCloud, toDevice, status, midStatus, metrics, midMetrics };
    }

    /** The named sample of a Prometheus exposition, or 0. */
    function sample(text: string, series: string): number {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    }

    it("link down for 5 s: the session stays, both directions come back at once, the outage shows in its figures", async () => {
      const run = await underFault("u-link", {
        apply: (n) => n.setLinkDown(true),
        lift: (n) => n.setLinkDown(false),
      });
      const figures = run.status.metadata;
      expect(run.status.connected).toBe(true);
      expect(figures.rejoins).toBe("0");
      // Before: the tone both ways. During: nothing gets through.
      expect(heardShare(run.toCloud, 500, run.faultAt)).toBeGreaterThan(0.9);
      expect(heardShare(run.toDevice, 500, run.faultAt)).toBeGreaterThan(0.9);
      expect(heardShare(run.toCloud, run.faultAt + 500, run.liftedAt)).toBe(0);
      expect(heardShare(run.toDevice, run.faultAt + 500, run.liftedAt)).toBe(0);
      // After: back within 2 s each way, and it stays.
      const cloudBack =
        (recoveredAt(run.toCloud, run.liftedAt) ?? Number.POSITIVE_INFINITY) - run.liftedAt;
      const deviceBack =
        (recoveredAt(run.toDevice, run.liftedAt) ?? Number.POSITIVE_INFINITY) - run.liftedAt;
      expect(cloudBack).toBeLessThanOrEqual(2_000);
      expect(deviceBack).toBeLessThanOrEqual(2_000);
      expect(heardShare(run.toCloud, run.liftedAt + 2_000, 13_000)).toBeGreaterThan(0.9);
      expect(heardShare(run.toDevice, run.liftedAt + 2_000, 12_500)).toBeGreaterThan(0.9);
      // The outage in the session's figures and in /metrics: about 5 s of concealed room
      // audio, and the bridge's packets the SFU never got (50 per second).
      const concealedMs = Number(figures.room_concealed_ms);
      const lostByPeer = Number(figures.room_packets_lost_by_peer);
      expect(concealedMs).toBeGreaterThan(3_500);
      expect(concealedMs).toBeLessThan(7_000);
      expect(lostByPeer).toBeGreaterThan(100);
      expect(lostByPeer).toBeLessThan(300);
      expect(sample(run.metrics, "bridge_room_concealed_seconds_total")).toBeGreaterThanOrEqual(
        concealedMs / 1000 - 0.01,
      );
      expect(
        sample(run.metrics, 'bridge_room_packets_total{direction="to_room",fate="lost"}'),
      ).toBeGreaterThanOrEqual(lostByPeer);
      recordFault({
        kind: "fault",
        what: "Link between the bridge and LiveKit down for 5 s (veth down in the test namespace)",
        expected:
          "session stays, no rejoin; audio both ways within 2 s of the link coming back; outage in GetStatus and /metrics",
        observed: `connected, 0 rejoins; nothing heard during the outage; room→cloud back after ${cloudBack} ms, cloud→device after ${deviceBack} ms (measured to the end of the first 250 ms window with the tone); room_concealed_ms ${concealedMs}, room_packets_lost_by_peer ${lostByPeer}`,
        recoveryMs: Math.max(cloudBack, deviceBack),
      });
    }, 40_000);

    it("10% loss each way for 5 s: audio goes on, the loss shows in its figures", async () => {
      const run = await underFault("u-loss", {
        apply: (n) => n.setLoss(0.1),
        lift: (n) => n.setLoss(0),
      });
      const figures = run.status.metadata;
      expect(run.status.connected).toBe(true);
      const cloudShare = heardShare(run.toCloud, run.faultAt, run.liftedAt);
      const deviceShare = heardShare(run.toDevice, run.faultAt, run.liftedAt);
      expect(cloudShare).toBeGreaterThan(0.9);
      expect(deviceShare).toBeGreaterThan(0.9);
      // About 10% of 250 packets each way is lost (retransmission may save some), and the
      // decoder conceals a bounded share of the 5 s.
      const lost = Number(figures.room_packets_lost);
      const lostByPeer = Number(figures.room_packets_lost_by_peer);
      const concealedMs = Number(figures.room_concealed_ms);
      expect(lost).toBeGreaterThan(5);
      expect(lostByPeer).toBeGreaterThan(5);
      expect(concealedMs).toBeGreaterThan(0);
      expect(concealedMs).toBeLessThan(2_000);
      expect(
        sample(run.metrics, 'bridge_room_packets_total{direction="from_room",fate="lost"}'),
      ).toBeGreaterThanOrEqual(lost);
      recordFault({
        kind: "fault",
        what: "10% packet loss each way for 5 s between the bridge and LiveKit (nftables in the test namespace)",
        expected:
          "audio goes on both ways (tone in > 90% of 250 ms windows); the loss shows in GetStatus and /metrics",
        observed: `tone heard in ${Math.round(cloudShare * 100)}% (room→cloud) and ${Math.round(deviceShare * 100)}% (cloud→device) of windows; room_packets_lost ${lost}, room_packets_lost_by_peer ${lostByPeer}, room_concealed_ms ${concealedMs}`,
      });
    }, 40_000);

    it("100 ms delay on LiveKit's side for 5 s: audio goes on, the round trip shows it", async () => {
      const run = await underFault("u-delay", {
        apply: (n) => n.setDelay(100),
        lift: (n) => n.setDelay(0),
      });
      expect(run.status.connected).toBe(true);
      const cloudShare = heardShare(run.toCloud, run.faultAt + 500, run.liftedAt);
      const deviceShare = heardShare(run.toDevice, run.faultAt + 500, run.liftedAt);
      expect(cloudShare).toBeGreaterThan(0.9);
      expect(deviceShare).toBeGreaterThan(0.9);
      const rttDuring = Number(run.midStatus?.metadata.room_round_trip_ms);
      const rttAfter = Number(run.status.metadata.room_round_trip_ms);
      expect(rttDuring).toBeGreaterThanOrEqual(80);
      expect(rttAfter).toBeLessThan(50);
      const rttMetric = sample(run.midMetrics, "bridge_room_round_trip_seconds_max");
      expect(rttMetric).toBeGreaterThanOrEqual(0.08);
      recordFault({
        kind: "fault",
        what: "100 ms delay on every packet leaving LiveKit's namespace for 5 s (iptables NFQUEUE + tools/netdelay; no netem here)",
        expected:
          "audio goes on both ways (tone in > 90% of 250 ms windows); the delay shows in the round trip GetStatus and /metrics report",
        observed: `tone heard in ${Math.round(cloudShare * 100)}% (room→cloud) and ${Math.round(deviceShare * 100)}% (cloud→device) of windows; room_round_trip_ms ${rttDuring} during (bridge_room_round_trip_seconds_max ${rttMetric}), ${rttAfter} after`,
      });
    }, 40_000);
  },
);
