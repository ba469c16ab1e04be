import {
  chirp,
  concatPcm,
  DisconnectReason,
  deleteRoom,
  dominantFrequency,
  findOffset,
  findToneGlitches,
  joinParticipant,
  listParticipantIdentities,
  removeParticipant,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { type LiveKitRig, startLiveKit } from "../src/start-livekit.js";

const gate = await e2eGate();

describe.runIf(gate === "run")("test-kit helpers against a real livekit-server", () => {
  let rig: LiveKitRig;
  const participants: TestParticipant[] = [];

  beforeAll(async () => {
    rig = await startLiveKit({ isolate: "on" });
  });

  afterAll(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await rig?.close();
  });

  it("lists, removes and deletes through the room service", async () => {
    const alice = await joinParticipant(rig, "admin-room", "alice");
    const bob = await joinParticipant(rig, "admin-room", "bob");
    participants.push(alice, bob);
    const identities = () => listParticipantIdentities(rig, "admin-room");
    await waitFor(async () => (await identities()).length === 2, { timeoutMs: 5000 });
    expect(await identities()).toEqual(["alice", "bob"]);

    await removeParticipant(rig, "admin-room", "alice");
    expect(await alice.disconnected).toBe(DisconnectReason.PARTICIPANT_REMOVED);
    await waitFor(async () => (await identities()).join() === "bob", {
      timeoutMs: 5000,
      description: "alice to leave admin-room",
    });

    await deleteRoom(rig, "admin-room");
    expect(await bob.disconnected).toBe(DisconnectReason.ROOM_DELETED);
    expect(await identities()).toEqual([]);
    await deleteRoom(rig, "admin-room"); // gone already: still fine
    await expect(removeParticipant(rig, "no-such-room", "nobody")).rejects.toThrow();
  });

  it("finds a 300-3000 Hz chirp and a glitch-free tone after Opus", async () => {
    const sampleRate = 48_000;
    // Opus at WebRTC's start-up bitrate mangles a sweep up to 6 kHz (peaks of
    // 0.3-0.45 seen); one that stays below 3 kHz comes through at 0.8-0.99.
    const sweep = chirp({ sampleRate, durationMs: 1000, fromHz: 300, toHz: 3000 });
    const tone = sineTone({ frequencyHz: 440, sampleRate, durationMs: 2000 });
    const gap = new Int16Array(sampleRate / 2);
    const pcm = concatPcm([new Int16Array(sampleRate), sweep, gap, tone, gap]);
    const speaker = await joinParticipant(rig, "opus-room", "speaker");
    const listener = await joinParticipant(rig, "opus-room", "listener");
    participants.push(speaker, listener);
    const recorder = listener.recordAudio("speaker", sampleRate);
    const publishing = speaker.publishPcm(pcm, { sampleRate });
    await recorder.subscribed;
    await publishing;
    const received = await recorder.stop();

    const started = performance.now();
    const found = findOffset(sweep, received, sampleRate);
    const findMs = performance.now() - started;
    // The tone sits where the chirp says it should; its first and last 100 ms are left out.
    const toneAt = found.offsetSamples + sweep.length + gap.length;
    const middle = received.subarray(
      toneAt + sampleRate / 10,
      toneAt + tone.length - sampleRate / 10,
    );
    const glitches = findToneGlitches(middle, sampleRate, 440);
    console.log(
      `[rig] after Opus: chirp peak ${found.peak.toFixed(3)} at ${found.offsetMs.toFixed(2)} ms ` +
        `(found in ${findMs.toFixed(0)} ms among ${received.length} samples); tone glitches: ${glitches.length}`,
    );
    expect(found.peak).toBeGreaterThan(0.6);
    expect(Math.abs(dominantFrequency(middle, sampleRate) - 440)).toBeLessThan(3);
    expect(glitches).toEqual([]);
  });
});
