import { Code } from "@connectrpc/connect";
import { type BridgeClient, BridgeError, type BridgeSession } from "@mentra/bridge-client";
import {
  createDeviceSender,
  joinParticipant,
  type LiveKitCredentials,
  type TestParticipant,
} from "@mentra/test-kit";
import { bridgeIdentity } from "./bridge-launch.js";
import { type DirectTone, startDirectTone } from "./direct-tone.js";
import { markWithin } from "./mark-within.js";
import { createPacketLog, PACKET_SAMPLES, type PacketLog, stampSequence } from "./packet-log.js";
import { type PitchReading, utterancePitch } from "./pitch.js";
import { sleep } from "./sleep.js";
import type { Voices } from "./voices.js";

/** What a user's MP3 loop did. */
export interface PlaybackCounts {
  started: number;
  completed: number;
  failed: number;
  stopped: number;
  errors: number;
  /** PlayAudio answered Unimplemented: the loop gave up. */
  unimplemented: boolean;
  lastError: string;
}

/** What a listening user's glasses heard over a window: the bridge's track, and the control's. */
export interface Heard {
  readonly bridged: PitchReading;
  /** The same tone from a peer straight into LiveKit; undefined for users without one. */
  readonly direct: PitchReading | undefined;
}

/** One simulated user: glasses in a room sending PCM data packets, and its cloud session. */
export interface BenchUser {
  readonly userId: string;
  readonly device: TestParticipant;
  readonly session: BridgeSession;
  readonly packets: PacketLog;
  /** Set for the users that also loop an MP3 through PlayAudio. */
  readonly playback: PlaybackCounts | undefined;
  /**
   * Set for the listening users: starts recording what the glasses hear of the bridge (the
   * 300 Hz TTS tone); `stop` gives its pitch per utterance.
   */
  readonly listen: (() => { stop(): Promise<Heard> }) | undefined;
  /** Sends the next 20 ms both ways: a device packet and a TTS chunk on track 2. */
  tick(): void;
  /** Stops the MP3 loop, leaves the session, then the room. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link joinBenchUser}. */
export interface BenchUserOptions {
  readonly userId: string;
  readonly roomName: string;
  readonly creds: LiveKitCredentials;
  readonly client: BridgeClient;
  readonly voices: Voices;
  /** Loop this URL through PlayAudio on track 1. */
  readonly playUrl?: string;
  /** Which directions carry audio (both by default), to attribute CPU to each. */
  readonly directions?: Directions;
  /**
   * This user's TTS is a 300 Hz tone and its glasses decode the bridge's track to hear its
   * pitch. The other users' glasses subscribe to nothing (decoding costs the load generator).
   */
  readonly listens?: boolean;
  /**
   * With `listens`: a peer in the room plays the same tone straight into LiveKit, and the
   * glasses hear it too (the pitch without the bridge; see direct-tone.ts).
   */
  readonly control?: boolean;
}

/** Which ways audio flows: both, only glasses → cloud, or only cloud → glasses (TTS). */
export type Directions = "both" | "room-to-cloud" | "cloud-to-room";

const TTS_RATE = 24_000;
const HEAR_RATE = 16_000;
const TTS_CHUNK = TTS_RATE / 50;
/**
 * TTS comes in utterances, as a voice assistant's does: 2 s of speech, then 0.5 s with
 * nothing sent (in 20 ms ticks). The pause is also when a track's queue drains: audio
 * that a stall anywhere on the way held back stays queued ahead of the rest of its
 * utterance, since nothing of it is dropped.
 */
const UTTERANCE_TICKS = 100;
const PAUSE_TICKS = 25;

async function loopPlayback(
  session: BridgeSession,
  url: string,
  signal: AbortSignal,
  counts: PlaybackCounts,
): Promise<void> {
  // Bounded by the signal, which close() aborts; each pass plays a 3 s file.
  while (!signal.aborted) {
    // No signal here: cancelling rejects `done`, and the client's own `done.finally(…)`
    // then rejects unhandled. close() ends the loop with StopAudio instead.
    const playback = session.play(url, { trackId: 1 });
    counts.started++;
    try {
      const outcome = await playback.done;
      counts[outcome.type]++;
      if (outcome.type === "failed") {
        counts.lastError = outcome.error;
        await sleep(1_000, signal);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof BridgeError && error.code === Code.Unimplemented) {
        counts.unimplemented = true;
        return;
      }
      counts.errors++;
      counts.lastError = error instanceof Error ? error.message : String(error);
      await sleep(1_000, signal);
    }
  }
}

/** Joins the glasses to their room and the cloud session through the bridge. */
export async function joinBenchUser(options: BenchUserOptions): Promise<BenchUser> {
  const deviceIdentity = `glasses-${options.userId}`;
  const listens = options.listens === true;
  const device = await joinParticipant(options.creds, options.roomName, deviceIdentity, {
    autoSubscribe: listens,
  });
  let direct: DirectTone | undefined;
  if (listens && options.control === true) {
    try {
      direct = await startDirectTone(
        options.creds,
        options.roomName,
        options.userId,
        options.voices.tone16k,
      );
    } catch (error) {
      await device.close();
      throw error;
    }
  }
  // The phone's packets (sequence byte, lossy channel); tick() paces them.
  const phone = createDeviceSender((p, o) => device.sendData(p, o), { paced: false });
  let session: BridgeSession;
  try {
    session = await options.client.join({
      userId: options.userId,
      roomName: options.roomName,
      targetIdentity: deviceIdentity,
      // Fixed, so the "auto" judge does not hold back the first 100 ms of every user.
      pcmByteOrder: "little",
    });
  } catch (error) {
    await direct?.close();
    await device.close();
    throw error;
  }
  // The TTS track is published on its first audio, and what arrives meanwhile would stay
  // queued ahead of all later real-time audio (a continuous stream never drains it; real
  // TTS pauses between utterances do). Publish it with 100 ms of silence and wait until
  // that played out, so the bench measures the steady state.
  if (options.directions !== "room-to-cloud") {
    session.send(new Int16Array(TTS_RATE / 10), { trackId: 2, sampleRate: TTS_RATE });
    try {
      await markWithin(session, 2, "primed", 10_000);
    } catch (error) {
      await session.leave("bench join failed").catch(() => {});
      await direct?.close();
      await device.close();
      throw error;
    }
  }
  const packets = createPacketLog();
  const consuming = (async () => {
    for await (const frame of session.audio) {
      packets.received(frame.samples, frame.timestampMs, Date.now());
    }
  })();
  const stopPlayback = new AbortController();
  const playback: PlaybackCounts | undefined =
    options.playUrl === undefined
      ? undefined
      : {
          started: 0,
          completed: 0,
          failed: 0,
          stopped: 0,
          errors: 0,
          unimplemented: false,
          lastError: "",
        };
  const playing =
    playback && options.playUrl
      ? loopPlayback(session, options.playUrl, stopPlayback.signal, playback)
      : Promise.resolve();

  const { speech16k } = options.voices;
  const tts24k = listens ? options.voices.tone24k : options.voices.tts24k;
  const directions = options.directions ?? "both";
  const sendDevice = directions !== "cloud-to-room";
  const sendTts = directions !== "room-to-cloud";
  let frame = 0;
  let closed: Promise<void> | undefined;
  const sendPacket = () => {
    const packet = new Int16Array(PACKET_SAMPLES);
    const from = (frame * PACKET_SAMPLES) % speech16k.length;
    packet.set(speech16k.subarray(from, from + PACKET_SAMPLES));
    const seq = packets.sent(Date.now());
    stampSequence(packet, seq);
    phone.send(new Uint8Array(packet.buffer)).catch(() => packets.sendFailed(seq));
  };
  return {
    userId: options.userId,
    device,
    session,
    packets,
    playback,
    listen: listens
      ? () => {
          const bridged = device.recordAudio(bridgeIdentity(options.userId), HEAR_RATE);
          const control = direct && device.recordAudio(direct.identity, HEAR_RATE);
          return {
            stop: async () => ({
              bridged: utterancePitch(await bridged.stop(), HEAR_RATE),
              direct: control && utterancePitch(await control.stop(), HEAR_RATE),
            }),
          };
        }
      : undefined,
    tick() {
      if (closed) return;
      if (sendDevice) sendPacket();
      const speaking = frame % (UTTERANCE_TICKS + PAUSE_TICKS) < UTTERANCE_TICKS;
      direct?.tick(frame, speaking);
      if (sendTts && speaking) {
        const ttsFrom = (frame * TTS_CHUNK) % tts24k.length;
        session.send(tts24k.subarray(ttsFrom, ttsFrom + TTS_CHUNK), {
          trackId: 2,
          sampleRate: TTS_RATE,
        });
      }
      frame++;
    },
    close() {
      closed ??= (async () => {
        stopPlayback.abort();
        if (playback) await session.stop().catch(() => {});
        await playing;
        await session.leave("bench over").catch(() => {});
        await consuming.catch(() => {});
        await direct?.close();
        await device.close();
      })();
      return closed;
    },
  };
}
