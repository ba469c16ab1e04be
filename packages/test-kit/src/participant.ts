import {
  AudioFrame,
  AudioSource,
  AudioStream,
  type DisconnectReason,
  LocalAudioTrack,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { quietNativeLogs } from "@mentra/livekit-native-logs";
import { concatPcm } from "./audio.js";
import {
  createDeviceSender,
  type DeviceSender,
  type DeviceSenderOptions,
} from "./device-packets.js";
import { type LiveKitCredentials, mintToken } from "./token.js";

/** A data packet as a participant received it. */
export interface ReceivedData {
  payload: Uint8Array;
  from: string | undefined;
  topic: string | undefined;
}

/** Audio a participant records from one remote participant's tracks. */
export interface AudioRecorder {
  /** Resolves once a matching track is subscribed and being read. */
  subscribed: Promise<void>;
  /** Stops recording and returns every sample received so far. */
  stop(): Promise<Int16Array>;
}

/** A real rtc-node participant standing in for glasses, a phone or a test peer. */
export interface TestParticipant {
  identity: string;
  room: Room;
  /**
   * Resolves with the reason once the room disconnects, however that happens:
   * server shutdown, removal, room deletion, or {@link TestParticipant.close}.
   */
  disconnected: Promise<DisconnectReason>;
  /** Publishes a microphone track and plays `pcm` into it in real time, then unpublishes. */
  publishPcm(pcm: Int16Array, options: { sampleRate: number; channels?: number }): Promise<void>;
  /** Starts recording audio tracks of `fromIdentity`, resampled to `sampleRate` mono. */
  recordAudio(fromIdentity: string, sampleRate: number): AudioRecorder;
  /**
   * Sends microphone PCM (samples, or bytes already encoded) as this device's data
   * packets: by default as the phone app does (20 ms each, a sequence byte in front, on the
   * lossy channel, paced in real time); see {@link JoinOptions.packets}.
   */
  sendPcm(pcm: Int16Array | Uint8Array): Promise<void>;
  /** The sender behind {@link TestParticipant.sendPcm}: what it sent. */
  readonly pcmSender: DeviceSender;
  /** Sends one data packet to the room, as it is. */
  sendData(payload: Uint8Array, options?: { topic?: string; reliable?: boolean }): Promise<void>;
  /** The next data packet received, or a rejection after `timeoutMs`. */
  nextData(timeoutMs: number): Promise<ReceivedData>;
  /** Leaves the room. Idempotent. */
  close(): Promise<void>;
}

const FRAME_MS = 10;

/** Options of {@link joinParticipant}. */
export interface JoinOptions {
  /** How {@link TestParticipant.sendPcm} packs its packets; the phone's format by default. */
  readonly packets?: DeviceSenderOptions;
  /**
   * Subscribe to the room's tracks as they are published (true by default). A subscribed
   * audio track is decoded whether or not it is recorded, so a device that only sends
   * joins with false.
   */
  readonly autoSubscribe?: boolean;
}

let quieted = false;

/** Joins `roomName` as `identity` with a freshly minted token. */
export async function joinParticipant(
  creds: LiveKitCredentials,
  roomName: string,
  identity: string,
  options: JoinOptions = {},
): Promise<TestParticipant> {
  // Native trace logs forwarded to JavaScript would cost the test process most of its CPU
  // (and slow every simulated device), as they would the bridge.
  if (!quieted) {
    quietNativeLogs();
    quieted = true;
  }
  const room = new Room();
  const data: ReceivedData[] = [];
  const dataWaiters: ((d: ReceivedData) => void)[] = [];
  const onData = (
    payload: Uint8Array,
    participant?: RemoteParticipant,
    _k?: unknown,
    topic?: string,
  ) => {
    const item = { payload: new Uint8Array(payload), from: participant?.identity, topic };
    const waiter = dataWaiters.shift();
    if (waiter) waiter(item);
    else data.push(item);
  };
  room.on(RoomEvent.DataReceived, onData);
  const disconnected = new Promise<DisconnectReason>((resolve) => {
    room.once(RoomEvent.Disconnected, resolve);
  });
  await room.connect(creds.url, await mintToken(creds, roomName, identity), {
    autoSubscribe: options.autoSubscribe ?? true,
    dynacast: false,
  });
  let closed: Promise<void> | undefined;
  const pcmSender = createDeviceSender(async (payload, { reliable }) => {
    await room.localParticipant?.publishData(payload, { reliable });
  }, options.packets);

  return {
    identity,
    room,
    disconnected,
    async publishPcm(pcm, { sampleRate, channels = 1 }) {
      const source = new AudioSource(sampleRate, channels);
      const track = LocalAudioTrack.createAudioTrack(`${identity}-mic`, source);
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
      const publication = await room.localParticipant?.publishTrack(track, options);
      const perFrame = (sampleRate * FRAME_MS) / 1000;
      for (let offset = 0; offset < pcm.length / channels; offset += perFrame) {
        const slice = pcm.slice(offset * channels, (offset + perFrame) * channels);
        const padded = new Int16Array(perFrame * channels);
        padded.set(slice);
        await source.captureFrame(new AudioFrame(padded, sampleRate, channels, perFrame));
      }
      await source.waitForPlayout();
      if (publication?.sid) await room.localParticipant?.unpublishTrack(publication.sid);
      await track.close();
    },
    recordAudio(fromIdentity, sampleRate) {
      const chunks: Int16Array[] = [];
      const readers: Promise<void>[] = [];
      const streams: ReadableStreamDefaultReader<{ data: Int16Array }>[] = [];
      let markSubscribed: () => void = () => {};
      const subscribed = new Promise<void>((resolve) => {
        markSubscribed = resolve;
      });
      // Read through an explicit reader: cancelling it ends the loop even while the
      // track keeps playing (cancelling a stream locked by for-await would fail).
      const read = async (reader: ReadableStreamDefaultReader<{ data: Int16Array }>) => {
        for (;;) {
          const next = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (next.done || next.value === undefined) return;
          chunks.push(next.value.data.slice());
        }
      };
      const attach = (track: RemoteTrack, participant: RemoteParticipant) => {
        if (participant.identity !== fromIdentity || track.kind !== TrackKind.KIND_AUDIO) return;
        const reader = new AudioStream(track, { sampleRate, numChannels: 1 }).getReader();
        streams.push(reader);
        readers.push(read(reader));
        markSubscribed();
      };
      const onTrack = (track: RemoteTrack, _pub: unknown, participant: RemoteParticipant) =>
        attach(track, participant);
      room.on(RoomEvent.TrackSubscribed, onTrack);
      for (const participant of room.remoteParticipants.values()) {
        for (const pub of participant.trackPublications.values()) {
          if (pub.track) attach(pub.track, participant);
        }
      }
      return {
        subscribed,
        async stop() {
          room.off(RoomEvent.TrackSubscribed, onTrack);
          await Promise.all(streams.map((s) => s.cancel().catch(() => {})));
          await Promise.allSettled(readers);
          return concatPcm(chunks);
        },
      };
    },
    sendPcm: (pcm) => pcmSender.send(pcm),
    pcmSender,
    async sendData(payload, options = {}) {
      await room.localParticipant?.publishData(payload, {
        reliable: options.reliable ?? true,
        ...(options.topic ? { topic: options.topic } : {}),
      });
    },
    nextData(timeoutMs) {
      const ready = data.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          dataWaiters.splice(dataWaiters.indexOf(waiter), 1);
          reject(new Error(`no data packet within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (d: ReceivedData) => {
          clearTimeout(timer);
          resolve(d);
        };
        dataWaiters.push(waiter);
      });
    },
    close() {
      closed ??= (async () => {
        room.off(RoomEvent.DataReceived, onData);
        await room.disconnect();
      })();
      return closed;
    },
  };
}
