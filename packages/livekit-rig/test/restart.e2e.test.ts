import {
  DisconnectReason,
  heardTone,
  joinParticipant,
  listParticipantIdentities,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { run } from "../src/exec.js";
import { type LiveKitRig, startLiveKit } from "../src/start-livekit.js";

const gate = await e2eGate();

function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

describe.runIf(gate === "run")(
  "livekit rig restart (real livekit-server in a network namespace)",
  () => {
    let rig: LiveKitRig;
    const participants: TestParticipant[] = [];

    beforeAll(async () => {
      rig = await startLiveKit({ isolate: "on" });
    });

    afterAll(async () => {
      await Promise.all(participants.map((p) => p.close()));
      await rig?.close();
    });

    it("cuts connected participants off, then carries a tone for new ones", async () => {
      const early = await joinParticipant(rig, "restart-room", "early");
      participants.push(early);
      await waitFor(
        async () => (await listParticipantIdentities(rig, "restart-room")).includes("early"),
        { timeoutMs: 5000, intervalMs: 50, description: "early to be listed" },
      );

      // The participant notices the restart one of two ways: a server-shutdown leave
      // (Disconnected), or, when the forced stop exits before that leave is flushed, a lost
      // connection that rtc-node repairs by joining the restarted server again (Reconnecting).
      const cutOff = new Promise<string>((resolve) => {
        early.disconnected.then((reason) => resolve(`Disconnected (${DisconnectReason[reason]})`));
        // RoomEvent.Reconnecting; the rig does not depend on rtc-node itself.
        early.room.once("reconnecting" as Parameters<typeof early.room.once>[0], () =>
          resolve("Reconnecting"),
        );
      });
      const started = performance.now();
      await rig.restart();
      const restartMs = Math.round(performance.now() - started);
      const seen = await within(cutOff, 30_000, "Disconnected or Reconnecting event");
      console.log(`[rig] restart took ${restartMs} ms; the participant saw ${seen}`);
      expect(seen).not.toContain("CLIENT_INITIATED");
      expect(rig.url).toMatch(/^ws:\/\/[\d.]+:7880$/);

      const sampleRate = 48_000;
      const speaker = await joinParticipant(rig, "restart-room", "speaker");
      const listener = await joinParticipant(rig, "restart-room", "listener");
      participants.push(speaker, listener);
      const recorder = listener.recordAudio("speaker", sampleRate);
      const pcm = new Int16Array(sampleRate * 2.3);
      pcm.set(sineTone({ frequencyHz: 440, sampleRate, durationMs: 1000 }), sampleRate);
      const publishing = speaker.publishPcm(pcm, { sampleRate });
      await recorder.subscribed;
      await publishing;
      const received = await recorder.stop();
      const { frequencyHz: frequency, audibleMs: durationMs } = heardTone(received, sampleRate);
      console.log(`[rig] after restart: ${durationMs} ms audible at ${frequency} Hz`);
      expect(Math.abs(frequency - 440)).toBeLessThan(3);
      expect(durationMs).toBeGreaterThanOrEqual(960);
      expect(durationMs).toBeLessThanOrEqual(1040);
    }, 60_000);

    it("stopServer leaves LiveKit unreachable at the same URL until startServer", async () => {
      // The last test's participants leave first: rtc-node would otherwise join them to the
      // restarted server again, and the room would not come back empty (CI saw "listener").
      await Promise.all(participants.splice(0).map((p) => p.close()));
      await rig.stopServer();
      expect(await answers(rig.httpUrl)).toBe(false);
      await expect(listParticipantIdentities(rig, "restart-room")).rejects.toThrow();
      await rig.stopServer(); // already stopped: a no-op
      await rig.startServer();
      await rig.startServer(); // already running: a no-op
      expect(await answers(rig.httpUrl)).toBe(true);
      expect(await listParticipantIdentities(rig, "restart-room")).toEqual([]);
    });

    it("tears everything down once closed, and refuses to restart afterwards", async () => {
      const namespace = rig.namespace;
      await Promise.all(participants.splice(0).map((p) => p.close()));
      await rig.close();
      await rig.close(); // idempotent
      expect(await answers(rig.httpUrl)).toBe(false);
      await expect(rig.restart()).rejects.toThrow(/closed/);
      await expect(rig.startServer()).rejects.toThrow(/closed/);
      await expect(rig.stopServer()).rejects.toThrow(/closed/);
      expect(await run("ip", ["netns", "list"])).not.toContain(namespace ?? "(none)");
    });
  },
);
