import { Code, ConnectError } from "@connectrpc/connect";
import { PlayAudioEvent_EventType as EventType } from "@mentra/bridge-proto";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  type Cleanups,
  joinUserWithDevice,
  listParticipantIdentities,
  recordFault,
  runCleanups,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AudioServer, readFixture, startAudioServer } from "../support/audio-server.js";
import { type AppOnRig, startAppOnRig } from "./app-on-rig.js";
import { openCloudStream } from "./cloud-stream.js";
import { uniqueRoom } from "./harness.js";
import { finalOf, playAudio } from "./play-audio-client.js";

const gate = await e2eGate();
const MP3 = "mp3-16k-mono-3s-740.mp3";

describe.skipIf(gate === "skip")("races with playback and shutdown (real LiveKit)", () => {
  let livekit: LiveKitRig;
  let audio: AudioServer;
  /** Requests of the trickling route that are still open, and how many closed. */
  const trickle = { open: 0, closed: 0 };
  const cleanups: Cleanups = [];

  beforeAll(async () => {
    livekit = await startLiveKit({ isolate: "on" });
    audio = await startAudioServer();
    // An MP3 that never finishes downloading: its first 4 kB, then a byte every 100 ms.
    const mp3 = readFixture(MP3);
    audio.route("/trickle.mp3", (request, response) => {
      trickle.open++;
      response.writeHead(200, { "content-type": "audio/mpeg" });
      response.write(mp3.subarray(0, 4_096));
      let offset = 4_096;
      const timer = setInterval(() => {
        if (offset < mp3.length) response.write(mp3.subarray(offset, ++offset));
      }, 100);
      request.socket.on("close", () => {
        clearInterval(timer);
        trickle.open--;
        trickle.closed++;
      });
    });
  }, 60_000);
  afterEach(async () => {
    await runCleanups(cleanups);
  });
  afterAll(async () => {
    await audio?.close();
    await livekit?.close();
  });

  async function startBridge(): Promise<AppOnRig> {
    const app = await startAppOnRig(livekit, {
      PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
      PLAYBACK_DRAIN_MS: "300",
    });
    cleanups.push(() => app.close());
    return app;
  }

  // No LeaveRoom: closing the bridge (a cleanup of startBridge) ends the session.
  async function joinWithDevice(app: AppOnRig, userId: string): Promise<TestParticipant> {
    const room = uniqueRoom(userId);
    const { device } = await joinUserWithDevice({
      livekit,
      room,
      cleanups,
      async join() {
        const join = await app.grpc.joinRoom({ userId, roomName: room, targetIdentity: "glasses" });
        expect(join.success).toBe(true);
      },
    });
    return device;
  }

  it("StopAudio while the file is still downloading: STOPPED at once, the download closed", async () => {
    const app = await startBridge();
    await joinWithDevice(app, "u-stop-dl");
    const closedBefore = trickle.closed;
    const call = playAudio(app.grpc, {
      userId: "u-stop-dl",
      requestId: "dl",
      audioUrl: `${audio.origin}/trickle.mp3`,
    });
    cleanups.push(async () => call.cancel());
    await waitFor(() => trickle.open > 0, { timeoutMs: 3_000 });
    const stoppedAt = Date.now();
    const stop = await app.grpc.stopAudio({ userId: "u-stop-dl", requestId: "dl" });
    expect(stop).toMatchObject({ success: true, stoppedRequestId: "dl" });
    const { events, error } = await call.ended;
    const endedMs = Date.now() - stoppedAt;
    expect(error).toBeUndefined();
    expect(finalOf(events)?.type).toBe(EventType.STOPPED);
    await waitFor(() => trickle.closed > closedBefore, { timeoutMs: 2_000 });
    const closedMs = Date.now() - stoppedAt;
    expect(endedMs).toBeLessThan(500);
    recordFault({
      kind: "fault",
      what: "StopAudio while the MP3 is still downloading (the server trickles a byte per 100 ms)",
      expected:
        "StopAudio names the playback; PlayAudio ends on STOPPED at once; the download connection is closed",
      observed: `success, stopped_request_id dl; STOPPED (${finalOf(events)?.metadata.reason}) ${endedMs} ms after StopAudio; download closed within ${closedMs} ms`,
    });
  });

  it("shutdown during a stream, a downloading playback and a JoinRoom in flight: each ends clearly, nothing is left in LiveKit", async () => {
    const app = await startBridge();
    const device = await joinWithDevice(app, "u-busy");
    const stream = openCloudStream(app.grpc, "u-busy");
    const mic = device
      .publishPcm(sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 5_000 }), {
        sampleRate: 16_000,
      })
      .catch(() => {});
    await stream.waitForSamples(3_200, 5_000);
    const call = playAudio(app.grpc, {
      userId: "u-busy",
      requestId: "dl",
      audioUrl: `${audio.origin}/trickle.mp3`,
    });
    await waitFor(() => call.events.length > 0 || trickle.open > 0, { timeoutMs: 3_000 });
    const lateRoom = uniqueRoom("u-late");
    const closingAt = Date.now();
    const lateJoin = app.grpc.joinRoom({ userId: "u-late", roomName: lateRoom }).then(
      (answer) => ({ answer, error: undefined }),
      (error: unknown) => ({ answer: undefined, error: ConnectError.from(error) }),
    );
    const closing = app.close();
    const [late, streamEnd, played] = await Promise.all([lateJoin, stream.ended, call.ended]);
    await closing;
    const closeMs = Date.now() - closingAt;
    await mic;

    // The stream: ended with a code the client retries on (another instance takes over).
    expect(streamEnd?.code).toBe(Code.Unavailable);
    // The playback: STOPPED, saying why.
    expect(played.error).toBeUndefined();
    expect(finalOf(played.events)?.type).toBe(EventType.STOPPED);
    expect(finalOf(played.events)?.metadata.reason).toBe("session_server_shutdown");
    // The JoinRoom in flight: refused as Unavailable, or joined and then left with the rest.
    const lateOutcome =
      late.error !== undefined
        ? `${Code[late.error.code]}: ${late.error.rawMessage}`
        : `success=${late.answer?.success}`;
    if (late.error !== undefined) expect(late.error.code).toBe(Code.Unavailable);
    // Nothing of the bridge is left in either room, and the download was closed.
    const bridgeLeft = async () =>
      [
        ...(await listParticipantIdentities(livekit, device.room.name ?? "")),
        ...(await listParticipantIdentities(livekit, lateRoom).catch(() => [])),
      ].filter((identity) => identity.startsWith("cloud-agent:"));
    await waitFor(async () => (await bridgeLeft()).length === 0, { timeoutMs: 5_000 });
    expect(await bridgeLeft()).toEqual([]);
    expect(app.app.registry.counts().sessions).toBe(0);
    // Nothing held the drain: PLAYBACK_DRAIN_MS (300) and the leaving, not shutdownTimeoutMs.
    expect(closeMs).toBeLessThan(2_000);
    await waitFor(() => trickle.open === 0, { timeoutMs: 2_000 });
    recordFault({
      kind: "fault",
      what: "Shutdown during a live StreamAudio, a PlayAudio still downloading and a JoinRoom in flight",
      expected:
        "stream Unavailable; playback STOPPED (session_server_shutdown); the JoinRoom Unavailable or joined-then-left; no bridge participant left in LiveKit; download closed",
      observed: `stream ${Code[streamEnd?.code ?? Code.Unknown]}; playback ${EventType[finalOf(played.events)?.type ?? 0]} (${finalOf(played.events)?.metadata.reason}); JoinRoom ${lateOutcome}; 0 bridge participants; shutdown took ${closeMs} ms`,
    });
  });
});
