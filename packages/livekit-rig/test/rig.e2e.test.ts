import {
  audibleMs,
  dominantFrequency,
  joinParticipant,
  sineTone,
  type TestParticipant,
  trimSilence,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { type LiveKitRig, startLiveKit } from "../src/start-livekit.js";

const gate = await e2eGate();

describe.runIf(gate === "run")("livekit rig (real livekit-server in a network namespace)", () => {
  let rig: LiveKitRig;
  const participants: TestParticipant[] = [];

  beforeAll(async () => {
    rig = await startLiveKit({ isolate: "on" });
  });

  afterAll(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await rig?.close();
  });

  it("carries a 440 Hz tone from one rtc-node participant to another", async () => {
    const sampleRate = 48_000;
    const speaker = await joinParticipant(rig, "tone-room", "speaker");
    const listener = await joinParticipant(rig, "tone-room", "listener");
    participants.push(speaker, listener);

    const recorder = listener.recordAudio("speaker", sampleRate);
    // Lead-in silence lets the subscription settle before the tone starts.
    const pcm = new Int16Array(sampleRate * 2.3);
    pcm.set(sineTone({ frequencyHz: 440, sampleRate, durationMs: 1000 }), sampleRate);
    const publishing = speaker.publishPcm(pcm, { sampleRate });
    await recorder.subscribed;
    await publishing;
    const received = await recorder.stop();

    const tone = trimSilence(received, sampleRate);
    const frequency = dominantFrequency(tone, sampleRate);
    const durationMs = audibleMs(received, sampleRate);
    console.log(
      `[rig] tone test: received ${received.length} samples, ${durationMs} ms audible at ${frequency} Hz`,
    );
    expect(frequency).toBeGreaterThan(437);
    expect(frequency).toBeLessThan(443);
    expect(durationMs).toBeGreaterThanOrEqual(960);
    expect(durationMs).toBeLessThanOrEqual(1040);
  });

  it("delivers a data packet byte for byte", async () => {
    const sender = await joinParticipant(rig, "data-room", "sender");
    const receiver = await joinParticipant(rig, "data-room", "receiver");
    participants.push(sender, receiver);

    // Every byte value, odd length: what raw PCM packets from a device look like.
    const payload = new Uint8Array(1025).map((_, i) => (i * 7 + 3) % 256);
    await sender.sendData(payload, { topic: "pcm" });
    const got = await receiver.nextData(10_000);

    expect(got.from).toBe("sender");
    expect(got.topic).toBe("pcm");
    expect(Buffer.from(got.payload).equals(Buffer.from(payload))).toBe(true);
  });
});
