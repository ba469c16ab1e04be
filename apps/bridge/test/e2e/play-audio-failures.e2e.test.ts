import { Code } from "@connectrpc/connect";
import { PlayAudioEvent_EventType as EventType } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import { deleteRoom, joinParticipant, recordFault, waitFor } from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AudioServer, readFixture, startAudioServer } from "../support/audio-server.js";
import { encodeWav, toneFloats } from "../support/wav.js";
import { type BridgeRig, startBridgeRig, uniqueRoom } from "./harness.js";
import { finalOf, playAudio, typesOf } from "./play-audio-client.js";

const gate = await e2eGate();
const LONG = "mp3-16k-mono-3s-740.mp3";
const MAX_BYTES = 1_000_000;

describe.skipIf(gate === "skip")("PlayAudio bad input and session ends (real LiveKit)", () => {
  let rig: BridgeRig;
  let server: AudioServer;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    server = await startAudioServer();
    rig = await startBridgeRig({
      PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
      PLAYBACK_IDLE_TIMEOUT_MS: "400",
      PLAYBACK_CONNECT_TIMEOUT_MS: "1000",
      PLAYBACK_MAX_BYTES: String(MAX_BYTES),
      PLAYBACK_MAX_REDIRECTS: "3",
    });
    const room = uniqueRoom("u-bad");
    expect((await rig.client.joinRoom({ userId: "u-bad", roomName: room })).success).toBe(true);
    const device = await joinParticipant(rig.creds, room, "glasses");
    const other = uniqueRoom("u-other");
    expect((await rig.client.joinRoom({ userId: "u-other", roomName: other })).success).toBe(true);
    cleanups.push(() => device.close());
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(1).reverse()) await cleanup();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await rig?.close();
    await server?.close();
  });

  describe("the bad-input table", () => {
    const routes = () => {
      const long = readFixture(LONG);
      const tone = toneFloats({
        frequencyHz: 440,
        sampleRate: 16_000,
        channels: 1,
        durationMs: 500,
      });
      return {
        "404": server.route("/missing.mp3", (_q, r) => r.writeHead(404).end("not here")),
        "500": server.route("/broken.mp3", (_q, r) => r.writeHead(500).end("boom")),
        html: server.bytes(
          "/page.mp3",
          new TextEncoder().encode("<!DOCTYPE html><html><body>Sign in</body></html>"),
          "text/html",
        ),
        empty: server.bytes("/empty.wav", new Uint8Array(0), "audio/wav"),
        truncatedMp3: server.bytes(
          "/truncated.mp3",
          long.subarray(0, Math.floor(long.length / 2) + 7),
        ),
        lyingWav: server.bytes(
          "/lying.wav",
          encodeWav(tone, {
            sampleRate: 16_000,
            channels: 1,
            encoding: "s16",
            dataSizeOverride: 320_000,
          }),
        ),
        tooLarge: server.bytes("/huge.wav", new Uint8Array(MAX_BYTES + 1)),
        stall: server.route("/stall.mp3", (_q, r) => {
          r.writeHead(200, { "content-type": "audio/mpeg" });
          r.flushHeaders();
        }),
        loop: server.route("/loop.mp3", (_q, r) =>
          r.writeHead(302, { location: "/loop.mp3" }).end(),
        ),
      };
    };
    let urls: ReturnType<typeof routes>;
    let bystander: ReturnType<typeof playAudio>;
    beforeAll(() => {
      urls = routes();
      // Another user's playback runs through the whole table and must complete untouched.
      bystander = playAudio(rig.client, {
        userId: "u-other",
        requestId: "bystander",
        audioUrl: server.fixture(LONG),
        trackId: 2,
      });
    });
    afterAll(async () => {
      const { events } = await bystander.ended;
      expect(typesOf(events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
      expect(Math.abs(Number(finalOf(events)?.positionMs) - 3_000)).toBeLessThanOrEqual(20);
    });

    const failed = (
      url: () => string,
      types: string[],
      code: string,
      error: (url: string) => string | RegExp,
    ) => [url, types, code, error] as const;

    it.each([
      [
        "404",
        failed(
          () => urls["404"],
          ["FAILED"],
          "http_status",
          (u) => `HTTP 404 Not Found from ${u}`,
        ),
      ],
      [
        "500",
        failed(
          () => urls["500"],
          ["FAILED"],
          "http_status",
          (u) => `HTTP 500 Internal Server Error from ${u}`,
        ),
      ],
      [
        "an HTML page",
        failed(
          () => urls.html,
          ["FAILED"],
          "unsupported_format",
          () =>
            'unsupported format: neither MP3 nor WAV; it starts with "<!DOCTYPE html><html><bo"… (48 bytes, Content-Type text/html)',
        ),
      ],
      [
        "an empty body",
        failed(
          () => urls.empty,
          ["FAILED"],
          "empty",
          (u) => `the body from ${u} is empty (0 bytes)`,
        ),
      ],
      [
        "a truncated MP3",
        failed(
          () => urls.truncatedMp3,
          ["STARTED", "PROGRESS", "FAILED"],
          "decode_error",
          () => /^decode error: the MP3 is truncated: its last frame has \d+ of 180 bytes$/,
        ),
      ],
      [
        "a WAV header that lies about its size",
        failed(
          () => urls.lyingWav,
          ["STARTED", "PROGRESS", "FAILED"],
          "decode_error",
          () =>
            "decode error: the WAV is truncated: its header announces 10000 ms (320000 bytes), the body ended after 500 ms (16000 bytes)",
        ),
      ],
      [
        "a body over the size limit",
        failed(
          () => urls.tooLarge,
          ["FAILED"],
          "too_large",
          () =>
            `the audio is too large: the body is ${MAX_BYTES + 1} bytes, over the limit of ${MAX_BYTES} bytes (PLAYBACK_MAX_BYTES)`,
        ),
      ],
      [
        "a server that stalls",
        failed(
          () => urls.stall,
          ["FAILED"],
          "timeout",
          (u) => `timed out after 400 ms: waiting for more of ${u}`,
        ),
      ],
      [
        "a redirect loop",
        failed(
          () => urls.loop,
          ["FAILED"],
          "too_many_redirects",
          (u) =>
            `more than 3 redirects (PLAYBACK_MAX_REDIRECTS) starting at ${u}; the last went to /loop.mp3`,
        ),
      ],
      [
        "a private address",
        failed(
          () => "http://192.168.7.7/a.mp3",
          ["FAILED"],
          "refused",
          () =>
            "refused to fetch audio from 192.168.7.7: it is a private address (PLAYBACK_ALLOW_HOSTS can allow it)",
        ),
      ],
      [
        "the cloud metadata address",
        failed(
          () => "http://169.254.169.254/latest/meta-data/",
          ["FAILED"],
          "refused",
          () =>
            "refused to fetch audio from 169.254.169.254: it is a cloud metadata address (PLAYBACK_ALLOW_HOSTS can allow it)",
        ),
      ],
      [
        "a loopback address not on the allow-list",
        failed(
          () => `http://127.0.0.2:${new URL(server.origin).port}/a.mp3`,
          ["FAILED"],
          "refused",
          () =>
            "refused to fetch audio from 127.0.0.2: it is a loopback address (PLAYBACK_ALLOW_HOSTS can allow it)",
        ),
      ],
    ])("%s ends with the exact event", async (_name, [url, types, code, error]) => {
      const target = url();
      const call = playAudio(rig.client, {
        userId: "u-bad",
        requestId: "bad",
        audioUrl: target,
        trackId: 2,
      });
      const result = await call.ended;
      expect(result.error).toBeUndefined();
      expect(typesOf(result.events)).toEqual(types);
      const final = finalOf(result.events);
      expect(final?.type).toBe(EventType.FAILED);
      expect(final?.requestId).toBe("bad");
      expect(final?.metadata.code).toBe(code);
      const expected = error(target);
      if (typeof expected === "string") expect(final?.error).toBe(expected);
      else expect(final?.error).toMatch(expected);
      // The bridge and the user's session keep working.
      expect((await rig.client.getStatus({ userId: "u-bad" })).connected).toBe(true);
      expect((await rig.client.healthCheck({})).activeSessions).toBe(2);
    });

    it.each([
      [
        "ftp://",
        { audioUrl: "ftp://127.0.0.1/a.mp3" },
        Code.InvalidArgument,
        'audio_url must be http:// or https://, got ftp:// ("ftp://127.0.0.1/a.mp3")',
      ],
      [
        "file://",
        { audioUrl: "file:///etc/passwd" },
        Code.InvalidArgument,
        'audio_url must be http:// or https://, got file:// ("file:///etc/passwd")',
      ],
      [
        "a malformed URL",
        { audioUrl: "http//nope" },
        Code.InvalidArgument,
        'audio_url is not a valid URL: "http//nope"',
      ],
      ["an empty audio_url", { audioUrl: "" }, Code.InvalidArgument, "audio_url is required"],
      [
        "a negative volume",
        { volume: -0.5 },
        Code.InvalidArgument,
        "volume must be 0 (unity) or a gain above 0 up to 100, got -0.5",
      ],
      [
        "a NaN volume",
        { volume: Number.NaN },
        Code.InvalidArgument,
        "volume must be 0 (unity) or a gain above 0 up to 100, got NaN",
      ],
      [
        "a negative track_id",
        { trackId: -1 },
        Code.InvalidArgument,
        "track_id -1 is not valid: use an integer from 0 to 15 (one track each)",
      ],
      ["no user_id", { userId: "" }, Code.InvalidArgument, "user_id is required"],
      [
        "a user without a session",
        { userId: "u-nobody" },
        Code.FailedPrecondition,
        "no session for user u-nobody: call JoinRoom first",
      ],
    ])("%s is a Connect error", async (_name, fields, code, message) => {
      const call = playAudio(rig.client, {
        userId: "u-bad",
        requestId: "bad",
        audioUrl: server.fixture("wav-s16-8k-600.wav"),
        ...fields,
      });
      const result = await call.ended;
      expect(result.events).toEqual([]);
      expect([result.error?.code, result.error?.rawMessage]).toEqual([code, message]);
    });

    it("plays normally after the whole table", async () => {
      const call = playAudio(rig.client, {
        userId: "u-bad",
        requestId: "good",
        audioUrl: server.fixture("mp3-48k-mono-vbr-880.mp3"),
        trackId: 2,
      });
      expect(typesOf((await call.ended).events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
      expect(rig.registry.get("u-bad")?.openResources()).toBeGreaterThan(0);
    });
  });

  describe("every way a session ends stops its playbacks with STOPPED and releases them", () => {
    async function playing(userId: string, bridge = rig) {
      const room = uniqueRoom(userId);
      expect((await bridge.client.joinRoom({ userId, roomName: room })).success).toBe(true);
      const session = bridge.registry.get(userId);
      const calls = [1, 2].map((trackId) =>
        playAudio(bridge.client, {
          userId,
          requestId: `t${trackId}`,
          audioUrl: server.fixture(LONG),
          trackId,
        }),
      );
      await waitFor(() => calls.every((c) => c.events.length > 0), { timeoutMs: 3_000 });
      return { room, session, calls };
    }
    async function expectStopped(calls: ReturnType<typeof playAudio>[], reason: string) {
      for (const call of calls) {
        const { events, error } = await call.ended;
        expect(error).toBeUndefined();
        expect(finalOf(events)?.type).toBe(EventType.STOPPED);
        expect(finalOf(events)?.metadata.reason).toBe(reason);
      }
    }
    /** How the playbacks ended, and how long after `since` the last final event arrived. */
    async function endings(calls: ReturnType<typeof playAudio>[], since: number) {
      const ended = await Promise.all(calls.map((call) => call.ended));
      const summary = ended
        .map(({ events }) => {
          const final = finalOf(events);
          const type = final ? EventType[final.type] : "no event";
          return `${final?.requestId} ${type} (${final?.metadata.reason}) at ${Number(final?.positionMs)} ms of audio`;
        })
        .join(", ");
      const lastAt = Math.max(...ended.map(({ events }) => events.at(-1)?.at ?? Number.NaN));
      return { summary, afterMs: lastAt - since };
    }

    it("LeaveRoom", async () => {
      const { session, calls } = await playing("u-leave");
      const leftAt = Date.now();
      await rig.client.leaveRoom({ userId: "u-leave" });
      await expectStopped(calls, "session_left");
      expect(session?.openResources()).toBe(0);
      const { summary, afterMs } = await endings(calls, leftAt);
      recordFault({
        kind: "fault",
        what: "LeaveRoom while two PlayAudio calls are playing",
        expected:
          "both calls end without error on STOPPED, reason session_left; the session releases everything",
        observed: `${summary}; the last ${afterMs} ms after LeaveRoom was called; ${session?.openResources()} open resources`,
      });
    });

    it("a replacing JoinRoom", async () => {
      const { room, session, calls } = await playing("u-rejoin");
      const rejoinedAt = Date.now();
      expect((await rig.client.joinRoom({ userId: "u-rejoin", roomName: room })).success).toBe(
        true,
      );
      await expectStopped(calls, "session_replaced");
      expect(session?.openResources()).toBe(0);
      await rig.client.leaveRoom({ userId: "u-rejoin" });
      const { summary, afterMs } = await endings(calls, rejoinedAt);
      recordFault({
        kind: "fault",
        what: "A second JoinRoom for the same user replaces the session while two PlayAudio calls are playing",
        expected:
          "both calls end without error on STOPPED, reason session_replaced; the old session releases everything",
        observed: `${summary}; the last ${afterMs} ms after the new JoinRoom was called; ${session?.openResources()} open resources in the old session`,
      });
    });

    it("losing the room", async () => {
      const { room, session, calls } = await playing("u-lost");
      const deletedAt = Date.now();
      await deleteRoom(rig.creds, room);
      await expectStopped(calls, "room_lost");
      await waitFor(() => session?.openResources() === 0, { timeoutMs: 5_000 });
      const releasedMs = Date.now() - deletedAt;
      const { summary, afterMs } = await endings(calls, deletedAt);
      recordFault({
        kind: "fault",
        what: "The LiveKit room is deleted while two PlayAudio calls are playing",
        expected:
          "both calls end without error on STOPPED, reason room_lost; the session releases everything within 5 s",
        observed: `${summary}; the last ${afterMs} ms after DeleteRoom was called; ${session?.openResources()} open resources after ${releasedMs} ms`,
      });
    });

    it("shutdown", async () => {
      const instance = await rig.startBridge();
      const bridge = { ...rig, client: instance.client, registry: instance.registry };
      const { session, calls } = await playing("u-shutdown", bridge);
      const closedAt = Date.now();
      await instance.close();
      await expectStopped(calls, "session_server_shutdown");
      expect(session?.openResources()).toBe(0);
      const { summary, afterMs } = await endings(calls, closedAt);
      recordFault({
        kind: "fault",
        what: "The bridge shuts down (close()) while two PlayAudio calls are playing",
        expected:
          "both calls end without error on STOPPED, reason session_server_shutdown; the session releases everything",
        observed: `${summary}; the last ${afterMs} ms after the shutdown began; ${session?.openResources()} open resources`,
      });
    });
  });
});
