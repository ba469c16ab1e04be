import { Code } from "@connectrpc/connect";
import { e2eGate } from "@mentra/livekit-rig";
import {
  joinParticipant,
  listParticipantIdentities,
  recordFault,
  sineTone,
  waitFor,
} from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { openCloudStream, samplesOf } from "./cloud-stream.js";
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
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => rig.client.joinRoom({ userId: "u-fifty", roomName: room })),
    );
    const answeredMs = Date.now() - started;
    const succeeded = responses.filter((r) => r.success);
    expect(succeeded).toHaveLength(50);
    const sessions = rig.registry.counts().sessions;
    expect(sessions).toBe(1);
    const session = rig.registry.get("u-fifty");
    expect(session?.closed).toBe(false);
    await waitFor(async () => (await listParticipantIdentities(rig.creds, room)).length === 1, {
      timeoutMs: 10_000,
      description: "replaced participants gone",
    });
    const settledMs = Date.now() - started;
    const inRoom = await listParticipantIdentities(rig.creds, room);
    expect(inRoom).toEqual(["cloud-agent:u-fifty"]);
    // The survivor works: device audio reaches a stream.
    const device = await joinParticipant(rig.creds, room, "glasses");
    cleanups.push(() => device.close());
    const stream = openCloudStream(rig.client, "u-fifty");
    cleanups.push(() => stream.cancel());
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 100 });
    await device.sendPcm(tone);
    await stream.waitForSamples(tone.length, 5_000);
    const heard = samplesOf(stream.received);
    expect(Array.from(heard)).toEqual(Array.from(tone));
    recordFault({
      kind: "fault",
      what: "50 JoinRoom calls for one user at the same moment",
      expected:
        "all 50 succeed; exactly one open session and one bridge participant remain; the survivor carries device audio bit-exact",
      observed: `${succeeded.length}/50 succeeded, all answered within ${answeredMs} ms; ${sessions} session; room [${inRoom.join(", ")}] ${settledMs} ms after the calls began; ${heard.length} samples of device audio bit-exact`,
    });
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
    await device.sendPcm(tone);
    await survivor.waitForSamples(tone.length, 5_000);
    const heard = samplesOf(survivor.received);
    expect(Array.from(heard)).toEqual(Array.from(tone));
    const activeStreams = (await rig.client.healthCheck({})).activeStreams;
    expect(activeStreams).toBe(1);
    recordFault({
      kind: "fault",
      what: "Two StreamAudio calls for one user opened at the same moment",
      expected: "one ends Aborted, the other carries device audio bit-exact; one active stream",
      observed: `stream ${first.which} ended ${first.error ? Code[first.error.code] : "OK"}; the other got ${heard.length} samples bit-exact; HealthCheck activeStreams ${activeStreams}`,
    });
  });

  it("JoinRoom and LeaveRoom racing for one user end in a consistent state", async () => {
    const room = uniqueRoom("u-race");
    const started = Date.now();
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
    const emptyMs = Date.now() - started;
    const reason = (await rig.client.getStatus({ userId: "u-race" })).lastDisconnectReason;
    expect(reason).toBe("left");
    recordFault({
      kind: "fault",
      what: "10 JoinRoom and 10 LeaveRoom calls for one user racing (alternating, all sent at once, LeaveRoom last)",
      expected:
        "calls for one user run in order: the last LeaveRoom wins, no session left, no orphan bridge participant in LiveKit, reason left",
      observed: `no session; room empty ${emptyMs} ms after the calls began; GetStatus reason ${reason}`,
    });
  });
});
