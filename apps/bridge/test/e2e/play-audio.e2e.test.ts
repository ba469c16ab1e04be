import { PlayAudioEvent_EventType as EventType } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import {
  audibleMs,
  dominantFrequency,
  joinParticipant,
  type TestParticipant,
  trimSilence,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AudioServer, startAudioServer } from "../support/audio-server.js";
import { encodeWav, toneFloats, type WavEncoding } from "../support/wav.js";
import { type BridgeRig, joinUserAndDevice, startBridgeRig, uniqueRoom } from "./harness.js";
import { audibleSpan, finalOf, type PlayCall, playAudio, typesOf } from "./play-audio-client.js";
import { recordTrack } from "./track-recorder.js";

const gate = await e2eGate();
const RATE = 48_000;
const PROGRESS_MS = 200;
const LONG = "mp3-16k-mono-3s-740.mp3";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** What the device hears of one track while `play` runs, after its final event and a tail. */
async function hear(device: TestParticipant, from: string, track: string, play: () => PlayCall) {
  const recorder = recordTrack(device, from, track, RATE);
  const call = play();
  const result = await call.ended;
  await recorder.subscribed;
  await sleep(300);
  const timeline = recorder.timeline().filter((block) => block.at >= call.sentAt);
  const heard = await recorder.stop();
  return { call, result, heard, timeline };
}

function expectTone(heard: Int16Array, frequency: number, durationMs: number) {
  const trimmed = trimSilence(heard, RATE);
  expect(Math.abs(dominantFrequency(trimmed, RATE) - frequency)).toBeLessThan(3);
  expect(Math.abs(audibleMs(heard, RATE) - durationMs)).toBeLessThanOrEqual(50);
}

describe.skipIf(gate === "skip")(
  "PlayAudio and StopAudio (real LiveKit, audio from 127.0.0.1)",
  () => {
    let rig: BridgeRig;
    let server: AudioServer;
    const cleanups: (() => Promise<unknown>)[] = [];

    beforeAll(async () => {
      server = await startAudioServer();
      rig = await startBridgeRig({
        PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
        PLAYBACK_PROGRESS_MS: String(PROGRESS_MS),
      });
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    afterAll(async () => {
      await rig?.close();
      await server?.close();
    });

    async function setup(userId: string) {
      const { device, bridgeIdentity } = await joinUserAndDevice(rig, cleanups, userId);
      return { device, bridge: bridgeIdentity };
    }

    const play = (userId: string, requestId: string, url: string, trackId = 2, extra = {}) =>
      playAudio(rig.client, { userId, requestId, audioUrl: url, trackId, ...extra });

    const wav = (encoding: WavEncoding, rate: number, channels: number, frequencyHz: number) =>
      server.bytes(
        `/wav-${encoding}-${rate}-${channels}.wav`,
        encodeWav(toneFloats({ frequencyHz, sampleRate: rate, channels, durationMs: 600 }), {
          sampleRate: rate,
          channels,
          encoding,
          extensible: channels > 2,
        }),
        "audio/wav",
      );

    describe("the device hears the right tone for the right duration", () => {
      let device: TestParticipant;
      let bridge: string;
      beforeAll(async () => {
        const room = uniqueRoom("u-tones");
        await rig.client.joinRoom({ userId: "u-tones", roomName: room, targetIdentity: "glasses" });
        device = await joinParticipant(rig.creds, room, "glasses");
        bridge = "cloud-agent:u-tones";
        // The first PlayAudio publishes the tts track; what it plays before the device has
        // subscribed is not heard (up to ~130 ms on a loaded machine). That first-playback
        // delay has its own tests (PUBLISH_AT_JOIN, latency); these cases judge tone and
        // duration, so the track is published and subscribed once before them.
        await hear(device, bridge, "tts", () =>
          play("u-tones", "warm-up", server.fixture("wav-s16-8k-600.wav")),
        );
      });
      afterAll(async () => {
        await device?.close();
        await rig.client.leaveRoom({ userId: "u-tones" });
      });

      it.each([
        ["mp3-22k-mono-cbr-440.mp3", 440, 800],
        ["mp3-44k-stereo-cbr-id3-660.mp3", 660, 800],
        ["mp3-48k-mono-vbr-880.mp3", 880, 800],
        ["mp3-48k-stereo-vbr-noxing-1000.mp3", 1_000, 800],
        ["mp3-44k-mono-cbr-noxing-550.mp3", 550, 800],
        [LONG, 740, 3_000],
        ["wav-u8-8k-500.wav", 500, 250],
        ["wav-s16-8k-600.wav", 600, 250],
        ["wav-s24-8k-700.wav", 700, 250],
        ["wav-s32-8k-800.wav", 800, 250],
        ["wav-f32-8k-900.wav", 900, 250],
      ])("%s: %i Hz for %i ms, then COMPLETED", async (name, frequency, durationMs) => {
        const { result, heard } = await hear(device, bridge, "tts", () =>
          play("u-tones", name, server.fixture(name)),
        );
        expect(result.error).toBeUndefined();
        expect(typesOf(result.events)).toEqual(
          durationMs > PROGRESS_MS
            ? ["STARTED", "PROGRESS", "COMPLETED"]
            : ["STARTED", "COMPLETED"],
        );
        const started = result.events[0]?.event;
        expect(started?.metadata.codec).toBe(name.slice(0, 3));
        if (started?.metadata.duration_source === "header") {
          expect(Math.abs(Number(started.durationMs) - durationMs)).toBeLessThanOrEqual(5);
        }
        const completed = finalOf(result.events);
        expect(Math.abs(Number(completed?.positionMs) - durationMs)).toBeLessThanOrEqual(60);
        expectTone(heard, frequency, durationMs);
      });

      it.each([
        ["s24", 44_100, 2, 1_200],
        ["f32", 11_025, 1, 330],
        ["u8", 22_050, 2, 450],
        ["s32", 96_000, 1, 1_500],
        ["f64", 32_000, 6, 620],
        ["s16", 8_000, 4, 770],
      ] as const)(
        "WAV %s at %i Hz with %i channels: %i Hz for 600 ms",
        async (encoding, rate, channels, frequency) => {
          const { result, heard } = await hear(device, bridge, "tts", () =>
            play("u-tones", `wav-${encoding}`, wav(encoding, rate, channels, frequency)),
          );
          expect(typesOf(result.events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
          expect(result.events[0]?.event.durationMs).toBe(600n);
          expectTone(heard, frequency, 600);
        },
      );

      it("applies volume as gain: 0.25 is a quarter of the amplitude, 0 is unity", async () => {
        const url = server.fixture("wav-s16-8k-600.wav");
        const peakOf = async (volume: number) => {
          const { heard } = await hear(device, bridge, "tts", () =>
            play("u-tones", `vol-${volume}`, url, 2, { volume }),
          );
          const trimmed = trimSilence(heard, RATE, 0.02);
          const body = trimmed.subarray(trimmed.length / 4, (trimmed.length * 3) / 4);
          return Math.sqrt(body.reduce((sum, v) => sum + v * v, 0) / body.length) / 32_768;
        };
        const unity = await peakOf(0);
        const quarter = await peakOf(0.25);
        expect(unity).toBeGreaterThan(0.3);
        expect(quarter / unity).toBeGreaterThan(0.2);
        expect(quarter / unity).toBeLessThan(0.3);
      });
    });

    it("reports PROGRESS as played out, spaced as configured, up to the duration", async () => {
      const { device, bridge } = await setup("u-progress");
      const { result, timeline } = await hear(device, bridge, "tts", () =>
        play("u-progress", "p1", server.fixture(LONG)),
      );
      const started = result.events[0];
      const progress = result.events.filter((e) => e.event.type === EventType.PROGRESS);
      const positions = progress.map((e) => Number(e.event.positionMs));
      console.log(`[play-audio] progress positions (ms): ${positions.join(", ")}`);
      expect(started?.event.durationMs).toBe(3_000n);
      expect(progress.length).toBeGreaterThanOrEqual(13);
      for (let i = 1; i < positions.length; i++) {
        expect(positions[i]).toBeGreaterThan(positions[i - 1] ?? 0);
      }
      const gaps = progress.slice(1).map((e, i) => e.at - (progress[i]?.at ?? 0));
      const steps = positions.slice(1).map((p, i) => p - (positions[i] ?? 0));
      expect(Math.abs(median(gaps) - PROGRESS_MS)).toBeLessThanOrEqual(30);
      expect(Math.abs(median(steps) - PROGRESS_MS)).toBeLessThanOrEqual(30);
      // Played out, not decoded: the whole file is decoded within milliseconds of STARTED,
      // yet each position follows the wall clock since STARTED (less the source's queue).
      for (const e of progress) {
        const sinceStart = e.at - (started?.at ?? 0);
        expect(Math.abs(Number(e.event.positionMs) - sinceStart)).toBeLessThanOrEqual(130);
      }
      expect(positions.at(-1)).toBeGreaterThanOrEqual(2_600);
      const completed = result.events.at(-1);
      expect(completed?.event.type).toBe(EventType.COMPLETED);
      expect(Math.abs(Number(completed?.event.positionMs) - 3_000)).toBeLessThanOrEqual(20);
      // COMPLETED comes once the last sample has played, not when decoding ended.
      const span = audibleSpan(timeline);
      expect((completed?.at ?? 0) - (started?.at ?? 0)).toBeGreaterThanOrEqual(2_950);
      expect(Math.abs((completed?.at ?? 0) - (span.last ?? 0))).toBeLessThanOrEqual(120);
    });

    it("first audio reaches the device within 150 ms of the request, and StopAudio silences it", async () => {
      const { device, bridge } = await setup("u-latency");
      // The track is published by a first playback; the cold figure is printed, not bounded.
      const cold = await hear(device, bridge, "tts", () =>
        play("u-latency", "cold", server.fixture("mp3-22k-mono-cbr-440.mp3")),
      );
      const coldMs = (audibleSpan(cold.timeline).first ?? Number.NaN) - cold.call.sentAt;
      const recorder = recordTrack(device, bridge, "tts", RATE);
      await recorder.subscribed;
      const firstAudio: number[] = [];
      const silence: number[] = [];
      const transport: number[] = [];
      const heardMs: number[] = [];
      for (let round = 0; round < 5; round++) {
        const requestId = `warm-${round}`;
        const call = play("u-latency", requestId, server.fixture(LONG));
        await waitFor(() => call.events.length > 0, { timeoutMs: 2_000, intervalMs: 5 });
        await sleep(600 + round * 77);
        const stopAt = Date.now();
        const response = await rig.client.stopAudio({
          userId: "u-latency",
          requestId,
          reason: "test",
        });
        expect(response).toMatchObject({ success: true, stoppedRequestId: requestId, error: "" });
        const { events } = await call.ended;
        await sleep(300);
        const timeline = recorder
          .timeline()
          .filter((b) => b.at >= call.sentAt && b.at < stopAt + 300);
        const span = audibleSpan(timeline);
        firstAudio.push((span.first ?? Number.NaN) - call.sentAt);
        silence.push((span.last ?? Number.NaN) - stopAt);
        // STARTED goes out as the first frame is handed to the track, so from it to the
        // first audible block is the path from the bridge to the device's ears: encoding,
        // the SFU, the device's jitter buffer and decoding. The room (the SFU) lies on it.
        transport.push((span.first ?? Number.NaN) - (call.events[0]?.at ?? Number.NaN));
        const heard = timeline
          .filter((b) => b.at <= (span.last ?? 0))
          .reduce((n, b) => n + b.samples.length, 0);
        heardMs.push(Math.round((heard / RATE) * 1000));
        const stopped = finalOf(events);
        expect(typesOf(events)).toEqual(["STARTED", "PROGRESS", "STOPPED"]);
        expect(stopped?.metadata).toEqual({ reason: "stop_audio", detail: "test" });
        expect(Number(stopped?.positionMs)).toBeGreaterThan(500 + round * 77);
      }
      await recorder.stop();
      console.log(
        `[play-audio] first audio at the device after the request (ms): cold ${coldMs} (publishes the track), warm ${firstAudio.join(", ")}`,
      );
      console.log(
        `[play-audio] StopAudio sent → last audible 10 ms block at the device (ms): ${silence.join(", ")} (median ${median(silence)})`,
      );
      const inRoom = silence.map((ms, i) => ms - (transport[i] ?? Number.NaN));
      console.log(
        `[play-audio] bridge → device path (ms): ${transport.join(", ")}; so StopAudio → silence in the room (ms): ${inRoom.join(", ")} (median ${median(inRoom)})`,
      );
      // Measured at the device, so WebRTC transport is included: the median must be under
      // 150 ms; single rounds may spike when the 2-core machine is busy.
      expect(median(firstAudio)).toBeLessThan(150);
      for (const ms of firstAudio) expect(ms).toBeLessThan(250);
      // Heard at the device, so WebRTC's packetisation, transport and jitter buffer (about
      // 40 ms on an idle machine) are included; the bridge clears its queue within the call.
      expect(median(silence)).toBeLessThan(100);
      for (const ms of silence) expect(ms).toBeLessThan(150);
      // Without the path to the device's ears, measured in the same round: the room (the
      // SFU) goes silent within 50 ms of StopAudio being sent.
      expect(median(inRoom)).toBeLessThan(50);
    });

    it("with PUBLISH_AT_JOIN the first playback after JoinRoom is as fast as a warm one", async () => {
      const early = await rig.startBridge({ PUBLISH_AT_JOIN: "2" });
      const userId = "u-early";
      const room = uniqueRoom(userId);
      const joinStarted = Date.now();
      const join = await early.client.joinRoom({
        userId,
        roomName: room,
        targetIdentity: "glasses",
      });
      const joinMs = Date.now() - joinStarted;
      expect(join.success).toBe(true);
      cleanups.push(() => early.client.leaveRoom({ userId }));
      const device = await joinParticipant(rig.creds, room, "glasses");
      cleanups.push(() => device.close());
      // The tts track is there before any audio; the device subscribes to it first.
      const recorder = recordTrack(device, `cloud-agent:${userId}`, "tts", RATE);
      await recorder.subscribed;
      const call = playAudio(early.client, {
        userId,
        requestId: "first",
        audioUrl: server.fixture("mp3-22k-mono-cbr-440.mp3"),
        trackId: 2,
      });
      const { events } = await call.ended;
      await sleep(300);
      const span = audibleSpan(recorder.timeline().filter((b) => b.at >= call.sentAt));
      await recorder.stop();
      const firstMs = (span.first ?? Number.NaN) - call.sentAt;
      console.log(
        `[play-audio] PUBLISH_AT_JOIN=2: JoinRoom took ${joinMs} ms; first audio at the device ${firstMs} ms after the first PlayAudio`,
      );
      expect(typesOf(events).at(-1)).toBe("COMPLETED");
      // As fast as a warm playback (60-110 ms idle; up to ~150 under CI load), where a
      // playback that publishes its track takes 180-270 ms.
      expect(firstMs).toBeLessThan(200);
    });

    it("two tracks play at once, each with its own tone", async () => {
      const { device, bridge } = await setup("u-two");
      // Publish both tracks first, so the device is subscribed before the overlap starts.
      for (const trackId of [1, 2]) {
        await hear(device, bridge, trackId === 1 ? "app_audio" : "tts", () =>
          play("u-two", `warm-${trackId}`, server.fixture("wav-s16-8k-600.wav"), trackId),
        );
      }
      const appAudio = recordTrack(device, bridge, "app_audio", RATE);
      const tts = recordTrack(device, bridge, "tts", RATE);
      const a = play("u-two", "a", server.fixture("mp3-22k-mono-cbr-440.mp3"), 1);
      const b = play("u-two", "b", server.fixture("mp3-48k-mono-vbr-880.mp3"), 2);
      const [ra, rb] = await Promise.all([a.ended, b.ended]);
      await Promise.all([appAudio.subscribed, tts.subscribed]);
      await sleep(300);
      const spanA = audibleSpan(appAudio.timeline());
      const spanB = audibleSpan(tts.timeline());
      const [heardA, heardB] = await Promise.all([appAudio.stop(), tts.stop()]);
      expect(finalOf(ra.events)?.type).toBe(EventType.COMPLETED);
      expect(finalOf(rb.events)?.type).toBe(EventType.COMPLETED);
      expectTone(heardA, 440, 800);
      expectTone(heardB, 880, 800);
      // They overlapped in time: each started before the other ended.
      expect(spanA.first ?? 0).toBeLessThan(spanB.last ?? 0);
      expect(spanB.first ?? 0).toBeLessThan(spanA.last ?? 0);
    });

    it("StopAudio without request id stops every playback of the user, and only theirs", async () => {
      const { device, bridge } = await setup("u-stopall");
      await setup("u-bystander");
      const bystander = play("u-bystander", "keep", server.fixture("mp3-48k-mono-vbr-880.mp3"), 2);
      const recorder = recordTrack(device, bridge, "tts", RATE);
      const a = play("u-stopall", "a", server.fixture(LONG), 1);
      const b = play("u-stopall", "b", server.fixture(LONG), 2);
      await recorder.subscribed;
      await sleep(700);
      const response = await rig.client.stopAudio({ userId: "u-stopall" });
      expect(response.success).toBe(true);
      expect(response.stoppedRequestId.split(",").sort()).toEqual(["a", "b"]);
      for (const call of [a, b]) {
        const { events } = await call.ended;
        expect(finalOf(events)?.type).toBe(EventType.STOPPED);
      }
      await sleep(300);
      const heard = await recorder.stop();
      expect(Math.abs(audibleMs(heard, RATE) - 700)).toBeLessThanOrEqual(150);
      const kept = await bystander.ended;
      expect(typesOf(kept.events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
    });

    it("stop_other stops the user's other playbacks; without it only the same track is replaced", async () => {
      await setup("u-other");
      const a = play("u-other", "a", server.fixture(LONG), 1);
      const b = play("u-other", "b", server.fixture(LONG), 2);
      await waitFor(() => a.events.length > 0 && b.events.length > 0, { timeoutMs: 3_000 });
      // Same track as a, no stop_other: a is replaced, b plays on.
      const c = play("u-other", "c", server.fixture(LONG), 1);
      const ra = await a.ended;
      expect(finalOf(ra.events)?.type).toBe(EventType.STOPPED);
      expect(finalOf(ra.events)?.metadata.reason).toBe("replaced");
      await waitFor(() => c.events.length > 0, { timeoutMs: 3_000 });
      expect(b.events.every((e) => e.event.type !== EventType.STOPPED)).toBe(true);
      // stop_other on a third track stops both b and c.
      const d = play("u-other", "d", server.fixture("mp3-48k-mono-vbr-880.mp3"), 3, {
        stopOther: true,
      });
      for (const call of [b, c]) {
        const { events } = await call.ended;
        expect(finalOf(events)?.type).toBe(EventType.STOPPED);
        expect(finalOf(events)?.metadata).toEqual({
          reason: "stop_other",
          detail: "stop_other by d",
        });
      }
      expect(typesOf((await d.ended).events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
    });

    it("an unknown request id is success=false and stops nothing", async () => {
      await setup("u-unknown");
      const a = play("u-unknown", "a", server.fixture("mp3-48k-mono-vbr-880.mp3"));
      await waitFor(() => a.events.length > 0, { timeoutMs: 3_000 });
      const response = await rig.client.stopAudio({ userId: "u-unknown", requestId: "nope" });
      expect(response).toMatchObject({
        success: false,
        stoppedRequestId: "",
        error: "no playback nope for user u-unknown (it ended or never started)",
      });
      expect(typesOf((await a.ended).events)).toEqual(["STARTED", "PROGRESS", "COMPLETED"]);
    });

    it("cancelling the PlayAudio call stops the playback and releases it", async () => {
      const { device, bridge } = await setup("u-cancel");
      const session = rig.registry.get("u-cancel");
      // The track stays published between playbacks; count from after a first one.
      await hear(device, bridge, "tts", () =>
        play("u-cancel", "c0", server.fixture("wav-s16-8k-600.wav")),
      );
      const before = session?.openResources() ?? -1;
      const recorder = recordTrack(device, bridge, "tts", RATE);
      const call = play("u-cancel", "c1", server.fixture(LONG));
      await recorder.subscribed;
      await sleep(600);
      call.cancel();
      await call.ended;
      await waitFor(() => session?.openResources() === before, { timeoutMs: 2_000 });
      await sleep(300);
      const heard = await recorder.stop();
      expect(Math.abs(audibleMs(heard, RATE) - 600)).toBeLessThanOrEqual(150);
      expect(session?.openResources()).toBe(before);
    });
  },
);
