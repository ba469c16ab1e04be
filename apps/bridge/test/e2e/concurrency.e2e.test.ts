import { Code } from "@connectrpc/connect";
import { e2eGate } from "@mentra/livekit-rig";
import { joinParticipant, listParticipantIdentities, sineTone, waitFor } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, uniqueRoom, useBridgeRig } from "./harness.js";

const gate = await e2eGate();

describe.skipIf(gate === "skip")("concurrent calls for one user (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  it("50 simultaneous JoinRooms: exactly one session survives, one bridge participant in LiveKit", async () => {
    const room = uniqueRoom("u-fifty");
    cleanups.push(() => rig.client.leaveRoom({ userId: "u-fifty" }));
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => rig.client.joinRoom({ userId: "u-fifty", roomName: room })),
    );
    expect(responses.filter((r) => r.success)).toHaveLength(50);
    expect(rig.registry.counts().sessions).toBe(1);
    const session = rig.registry.get("u-fifty");
    expect(session?.closed).toBe(false);
    await waitFor(async () => (await listParticipantIdentities(rig.creds, room)).length === 1, {
      timeoutMs: 10_000,
      description: "replaced participants gone",
    });
    expect(await listParticipantIdentities(rig.creds, room)).toEqual(["cloud-agent:u-fifty"]);
    // The survivor works: device audio reaches a stream.
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(() => device.close());
    const stream = openCloudStream(rig.client, "u-fifty");
    cleanups.push(() => stream.cancel());
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 100 });
    await device.sendData(leBytes(tone));
    await stream.waitForSamples(tone.length, 5_000);
    expect(Array.from(samplesOf(stream.received))).toEqual(Array.from(tone));
  });

  it("two StreamAudio calls opened at once: one ends Aborted, the other carries the audio", async () => {
    const room = uniqueRoom("u-twice");
    expect((await rig.client.joinRoom({ userId: "u-twice", roomName: room })).success).toBe(true);
    cleanups.push(() => rig.client.leaveRoom({ userId: "u-twice" }));
    const a = openCloudStream(rig.client, "u-twice");
    const b = openCloudStream(rig.client, "u-twice");
    cleanups.push(
      () => a.cancel(),
      () => b.cancel(),
    );
    const first = await Promise.race([
      a.ended.then((error) => ({ which: "a", error })),
      b.ended.then((error) => ({ which: "b", error })),
    ]);
    expect(first.error?.code).toBe(Code.Aborted);
    const survivor = first.which === "a" ? b : a;
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(() => device.close());
    const tone = sineTone({ frequencyHz: 660, sampleRate: 16_000, durationMs: 100 });
    await device.sendData(leBytes(tone));
    await survivor.waitForSamples(tone.length, 5_000);
    expect(Array.from(samplesOf(survivor.received))).toEqual(Array.from(tone));
    expect((await rig.client.healthCheck({})).activeStreams).toBe(1);
  });

  it("JoinRoom and LeaveRoom racing for one user end in a consistent state", async () => {
    const room = uniqueRoom("u-race");
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? rig.client.joinRoom({ userId: "u-race", roomName: room })
        : rig.client.leaveRoom({ userId: "u-race" }),
    );
    await Promise.all(calls);
    // Calls for one user run in order, so the last (a LeaveRoom) wins.
    expect(rig.registry.get("u-race")).toBeUndefined();
    await waitFor(async () => (await listParticipantIdentities(rig.creds, room)).length === 0, {
      timeoutMs: 10_000,
      description: "no orphan bridge participant",
    });
    expect((await rig.client.getStatus({ userId: "u-race" })).lastDisconnectReason).toBe("left");
  });
});
