import { Code } from "@connectrpc/connect";
import { e2eGate } from "@mentra/livekit-rig";
import { listParticipantIdentities, recordFault, sineTone, waitFor } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import {
  type BridgeRig,
  joinUser,
  joinUserAndDevice,
  uniqueRoom,
  useBridgeRig,
} from "./harness.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(gate === "skip")("session lifecycle (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  const inRoom = (room: string) => listParticipantIdentities(rig.creds, room);

  const join = (userId: string, room?: string) => joinUser(rig.client, cleanups, userId, room);

  it("LeaveRoom leaves the LiveKit room, ends the stream with OK and releases everything", async () => {
    const { room } = await joinUserAndDevice(rig, cleanups, "u-leave");
    const session = rig.registry.get("u-leave");
    expect(session).toBeDefined();
    const stream = openCloudStream(rig.client, "u-leave");
    stream.send({
      pcmData: leBytes(sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 200 })),
      trackId: 0,
    });
    await waitFor(
      async () =>
        (await rig.client.getStatus({ userId: "u-leave" })).metadata.stream_attached === "true",
    );
    expect(await inRoom(room)).toEqual(["cloud-agent:u-leave", "glasses"]);
    expect(session?.openResources()).toBeGreaterThan(0);

    expect(await rig.client.leaveRoom({ userId: "u-leave", reason: "test" })).toMatchObject({
      success: true,
    });
    expect(await stream.ended).toBeUndefined();
    await waitFor(async () => (await inRoom(room)).join() === "glasses", {
      description: "bridge gone",
    });
    expect(session?.openResources()).toBe(0);
    const status = await rig.client.getStatus({ userId: "u-leave" });
    expect(status.connected).toBe(false);
    expect(status.metadata.session).toBe("closed");
    expect(status.lastDisconnectReason).toBe("left");
    expect(Math.abs(Number(status.lastDisconnectAt) - Date.now())).toBeLessThan(10_000);
    expect((await rig.client.healthCheck({})).activeSessions).toBe(0);
  });

  it("a second JoinRoom replaces the session: one bridge participant, old stream Aborted", async () => {
    const room = await join("u-replace");
    const first = rig.registry.get("u-replace");
    const stream = openCloudStream(rig.client, "u-replace");
    await waitFor(() => first?.hasStream === true);
    await join("u-replace", room);
    const error = await stream.ended;
    expect(error?.code).toBe(Code.Aborted);
    expect(error?.rawMessage).toContain("replaced by a new JoinRoom");
    expect(first?.openResources()).toBe(0);
    const second = rig.registry.get("u-replace");
    expect(second).not.toBe(first);
    await waitFor(async () => (await inRoom(room)).length === 1);
    expect(await inRoom(room)).toEqual(["cloud-agent:u-replace"]);
    expect((await rig.client.getStatus({ userId: "u-replace" })).connected).toBe(true);
  });

  it("a second StreamAudio replaces the first, which ends with Aborted", async () => {
    await join("u-restream");
    const first = openCloudStream(rig.client, "u-restream");
    await waitFor(() => rig.registry.get("u-restream")?.hasStream === true);
    const second = openCloudStream(rig.client, "u-restream");
    cleanups.push(() => second.cancel());
    const error = await first.ended;
    expect(error?.code).toBe(Code.Aborted);
    expect(error?.rawMessage).toContain("replaced by a newer StreamAudio");
    expect((await rig.client.healthCheck({})).activeStreams).toBe(1);
  });

  it("a broken stream resumes within the grace period without re-joining or losing audio", async () => {
    const { room, device } = await joinUserAndDevice(rig, cleanups, "u-resume");
    const session = rig.registry.get("u-resume");
    const first = openCloudStream(rig.client, "u-resume");
    await waitFor(() => session?.hasStream === true);
    await first.cancel();
    await waitFor(() => session?.hasStream === false);

    // Audio sent while no stream is attached waits in the session's bounded queue.
    const tone = sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 400 });
    await device.sendPcm(tone);
    await sleep(300);
    const whileAway = await inRoom(room);
    expect(whileAway).toEqual(["cloud-agent:u-resume", "glasses"]);
    const connected = (await rig.client.getStatus({ userId: "u-resume" })).connected;
    expect(connected).toBe(true);

    const reopenedAt = Date.now();
    const second = openCloudStream(rig.client, "u-resume");
    cleanups.push(() => second.cancel());
    await second.waitForSamples(tone.length, 3_000);
    const deliveredMs = Date.now() - reopenedAt;
    const delivered = samplesOf(second.received);
    expect(Buffer.from(delivered.buffer).equals(Buffer.from(tone.buffer))).toBe(true);
    expect(rig.registry.get("u-resume")).toBe(session);
    recordFault({
      kind: "fault",
      what: "The cloud's StreamAudio breaks (cancelled) while the device sends 400 ms of audio; a new stream opens within the grace period",
      expected:
        "session and bridge participant stay, still connected; the new stream gets all 400 ms sent meanwhile, bit-exact; same session, no rejoin",
      observed: `room while away [${whileAway.join(", ")}], connected=${connected}; the new stream got ${delivered.length} samples (${delivered.length / 16} ms) bit-exact ${deliveredMs} ms after it opened; same session`,
    });
  });

  it("closes a session whose stream stays away past the grace period", async () => {
    const bridge = await rig.startBridge({ STREAM_GRACE_MS: "400" });
    const room = uniqueRoom("u-grace");
    expect((await bridge.client.joinRoom({ userId: "u-grace", roomName: room })).success).toBe(
      true,
    );
    const session = bridge.registry.get("u-grace");
    const stream = openCloudStream(bridge.client, "u-grace");
    await waitFor(() => session?.hasStream === true);
    await sleep(600);
    expect(session?.closed).toBe(false);
    await stream.cancel();
    const closedAt = Date.now();
    await waitFor(() => session?.closed === true, { timeoutMs: 3_000 });
    const closedAfterMs = Date.now() - closedAt;
    expect(closedAfterMs).toBeGreaterThanOrEqual(350);
    await waitFor(async () => (await inRoom(room)).length === 0, { description: "bridge left" });
    const leftAfterMs = Date.now() - closedAt;
    expect(session?.openResources()).toBe(0);
    const status = await bridge.client.getStatus({ userId: "u-grace" });
    expect([status.connected, status.lastDisconnectReason]).toEqual([false, "left"]);
    await bridge.close();
    recordFault({
      kind: "fault",
      what: "The cloud's StreamAudio goes away and does not come back (STREAM_GRACE_MS 400)",
      expected:
        "the session stays while a stream is attached, closes no sooner than the grace period (>= 350 ms) after the stream left, within 3 s; the bridge leaves the room, releases everything, reason left",
      observed: `session closed ${closedAfterMs} ms after the stream was cancelled; room empty after ${leftAfterMs} ms; ${session?.openResources()} open resources; GetStatus connected=${status.connected}, reason ${status.lastDisconnectReason}`,
    });
  });
});
