import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type {
  AudioChunkSchema,
  AudioSessionRequestSchema,
  LiveKitBridge,
  PcmByteOrder,
} from "@mentra/bridge-proto";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  dominantFrequency,
  joinParticipant,
  recordFault,
  sineTone,
  type TestParticipant,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppOnRig, startAppOnRig } from "./app-on-rig.js";
import { type CloudStream, openCloudStream, samplesOf } from "./cloud-stream.js";
import { uniqueRoom } from "./harness.js";
import { rawGrpc, rawHttp } from "./raw-requests.js";

const gate = await e2eGate();
type Bridge = Client<typeof LiveKitBridge>;
type ChunkInit = MessageInitShape<typeof AudioChunkSchema>;
type SessionInit = MessageInitShape<typeof AudioSessionRequestSchema>;

const MAX_CHUNK_BYTES = 65_536;
const TARGET = "u-target";
const long = (n: number) => "x".repeat(n);

/** One row of a table: a bad request, and the code and message it must get. */
interface BadCase {
  readonly what: string;
  readonly call: (bridge: Bridge) => Promise<unknown>;
  readonly code: Code;
  readonly message: string | RegExp;
}

/** A row whose input is odd but legal: it must get this answer, not an error. */
interface SoftCase {
  readonly what: string;
  readonly call: (bridge: Bridge) => Promise<unknown>;
  readonly answer: Record<string, unknown>;
}

/** Runs a server stream to its end and returns nothing; its error is the call's. */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // Only the end matters.
  }
}

/**
 * Opens a bidirectional call, sends `messages` and keeps the request side open until the
 * call ends (as the cloud does); resolves when the bridge ends the call, rejects with its
 * error.
 */
async function callWith<T>(
  open: (requests: AsyncIterable<T>, options: { signal: AbortSignal }) => AsyncIterable<unknown>,
  messages: readonly T[],
): Promise<void> {
  const controller = new AbortController();
  const ended = new Promise<void>((resolve) =>
    controller.signal.addEventListener("abort", () => resolve()),
  );
  async function* requests() {
    for (const message of messages) yield message;
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  }
  try {
    await drain(open(requests(), { signal: AbortSignal.timeout(6_000) }));
  } finally {
    controller.abort();
  }
}

const streamWith = (bridge: Bridge, chunks: readonly ChunkInit[]) =>
  callWith((requests, options) => bridge.streamAudio(requests, options), chunks);
const sessionWith = (bridge: Bridge, messages: readonly SessionInit[]) =>
  callWith((requests, options) => bridge.audioSession(requests, options), messages);

const start: SessionInit = { message: { case: "start", value: { userId: TARGET } } };

const chunk = (init: ChunkInit): ChunkInit => ({ userId: TARGET, sampleRate: 16_000, ...init });

const TABLES: Record<string, readonly BadCase[]> = {
  JoinRoom: [
    {
      what: "no user_id",
      call: (b) => b.joinRoom({ roomName: "r" }),
      code: Code.InvalidArgument,
      message: "user_id is required",
    },
    {
      what: "no room_name",
      call: (b) => b.joinRoom({ userId: "u" }),
      code: Code.InvalidArgument,
      message: "room_name is required",
    },
    {
      what: "a 300-byte user_id",
      call: (b) => b.joinRoom({ userId: long(300), roomName: "r" }),
      code: Code.InvalidArgument,
      message: "user_id is 300 bytes long; at most 256 are accepted",
    },
    {
      what: "a NUL in user_id",
      call: (b) => b.joinRoom({ userId: "u\u0000x", roomName: "r" }),
      code: Code.InvalidArgument,
      message: "user_id contains the control character U+0000",
    },
    // Binary protobuf turns a lone surrogate into U+FFFD on the way; JSON carries it as is
    // and protobuf-es refuses it while decoding.
    {
      what: "a lone surrogate in user_id",
      call: (b) => b.joinRoom({ userId: "u\ud800", roomName: "r" }),
      code: Code.InvalidArgument,
      message:
        /user_id contains U\+FFFD: the bytes sent were not valid UTF-8|user_id from JSON: expected string: invalid UTF8/,
    },
    {
      what: "a 300-byte room_name",
      call: (b) => b.joinRoom({ userId: "u", roomName: long(300) }),
      code: Code.InvalidArgument,
      message: "room_name is 300 bytes long; at most 256 are accepted",
    },
    {
      what: "a newline in target_identity",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", targetIdentity: "a\nb" }),
      code: Code.InvalidArgument,
      message: "target_identity contains the control character U+000A",
    },
    {
      what: "an ftp livekit_url",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", livekitUrl: "ftp://lk" }),
      code: Code.InvalidArgument,
      message: "livekit_url must be a ws://, wss://, http:// or https:// URL, got ftp:",
    },
    {
      what: "a livekit_url that is no URL",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", livekitUrl: "lk host" }),
      code: Code.InvalidArgument,
      message: 'livekit_url is not a URL: "lk host"',
    },
    {
      what: "a 20 kB token",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", token: long(20_000) }),
      code: Code.InvalidArgument,
      message: "token is 20000 bytes long; at most 16384 are accepted",
    },
    {
      what: "receive_sample_rate 7",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", receiveSampleRate: 7 }),
      code: Code.InvalidArgument,
      message: "receive_sample_rate must be 0 or 8000..48000, got 7",
    },
    {
      what: "receive_sample_rate -16000",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", receiveSampleRate: -16_000 }),
      code: Code.InvalidArgument,
      message: "receive_sample_rate must be 0 or 8000..48000, got -16000",
    },
    {
      what: "receive_frame_ms 5000",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", receiveFrameMs: 5_000 }),
      code: Code.InvalidArgument,
      message: "receive_frame_ms must be 0 or 10..100, got 5000",
    },
    {
      what: "pcm_byte_order 99",
      call: (b) => b.joinRoom({ userId: "u", roomName: "r", pcmByteOrder: 99 as PcmByteOrder }),
      code: Code.InvalidArgument,
      message: "pcm_byte_order 99 is not a known value",
    },
  ],
  LeaveRoom: [
    {
      what: "no user_id",
      call: (b) => b.leaveRoom({}),
      code: Code.InvalidArgument,
      message: "user_id is required",
    },
    {
      what: "a 1000-byte user_id",
      call: (b) => b.leaveRoom({ userId: long(1_000) }),
      code: Code.InvalidArgument,
      message: "user_id is 1000 bytes long; at most 256 are accepted",
    },
    {
      what: "a 2 kB reason",
      call: (b) => b.leaveRoom({ userId: "u", reason: long(2_048) }),
      code: Code.InvalidArgument,
      message: "reason is 2048 bytes long; at most 1024 are accepted",
    },
  ],
  GetStatus: [
    {
      what: "no user_id",
      call: (b) => b.getStatus({}),
      code: Code.InvalidArgument,
      message: "user_id is required",
    },
    {
      what: "an escape character in user_id",
      call: (b) => b.getStatus({ userId: "u\u001b[31m" }),
      code: Code.InvalidArgument,
      message: "user_id contains the control character U+001B",
    },
  ],
  StopAudio: [
    {
      what: "no user_id",
      call: (b) => b.stopAudio({ requestId: "p" }),
      code: Code.InvalidArgument,
      message: "user_id is required",
    },
    {
      what: "a 300-byte request_id",
      call: (b) => b.stopAudio({ userId: TARGET, requestId: long(300) }),
      code: Code.InvalidArgument,
      message: "request_id is 300 bytes long; at most 256 are accepted",
    },
  ],
  PlayAudio: [
    {
      what: "no user_id",
      call: (b) => drain(b.playAudio({ audioUrl: "http://127.0.0.1/a.mp3" })),
      code: Code.InvalidArgument,
      message: "user_id is required",
    },
    {
      what: "volume -1",
      call: (b) =>
        drain(b.playAudio({ userId: TARGET, audioUrl: "http://127.0.0.1/a.mp3", volume: -1 })),
      code: Code.InvalidArgument,
      message: "volume must be 0 (unity) or a gain above 0 up to 100, got -1",
    },
    {
      what: "volume NaN",
      call: (b) =>
        drain(
          b.playAudio({ userId: TARGET, audioUrl: "http://127.0.0.1/a.mp3", volume: Number.NaN }),
        ),
      code: Code.InvalidArgument,
      message: "volume must be 0 (unity) or a gain above 0 up to 100, got NaN",
    },
    {
      what: "track_id -1",
      call: (b) =>
        drain(b.playAudio({ userId: TARGET, audioUrl: "http://127.0.0.1/a.mp3", trackId: -1 })),
      code: Code.InvalidArgument,
      message: "track_id -1 is not valid: use an integer from 0 to 15 (one track each)",
    },
    {
      what: "track_id 2147483647",
      call: (b) =>
        drain(
          b.playAudio({
            userId: TARGET,
            audioUrl: "http://127.0.0.1/a.mp3",
            trackId: 2_147_483_647,
          }),
        ),
      code: Code.InvalidArgument,
      message: "track_id 2147483647 is not valid: use an integer from 0 to 15 (one track each)",
    },
    {
      what: "no audio_url",
      call: (b) => drain(b.playAudio({ userId: TARGET })),
      code: Code.InvalidArgument,
      message: "audio_url is required",
    },
    {
      what: "a file:// audio_url",
      call: (b) => drain(b.playAudio({ userId: TARGET, audioUrl: "file:///etc/passwd" })),
      code: Code.InvalidArgument,
      message: 'audio_url must be http:// or https://, got file:// ("file:///etc/passwd")',
    },
    {
      what: "a 10 kB audio_url",
      call: (b) =>
        drain(b.playAudio({ userId: TARGET, audioUrl: `http://127.0.0.1/${long(10_000)}` })),
      code: Code.InvalidArgument,
      message: "audio_url is 10017 bytes long; at most 8192 are accepted",
    },
    {
      what: "a tab in request_id",
      call: (b) =>
        drain(
          b.playAudio({ userId: TARGET, requestId: "a\tb", audioUrl: "http://127.0.0.1/a.mp3" }),
        ),
      code: Code.InvalidArgument,
      message: "request_id contains the control character U+0009",
    },
    {
      what: "a user without a session",
      call: (b) => drain(b.playAudio({ userId: "u-nobody", audioUrl: "http://127.0.0.1/a.mp3" })),
      code: Code.FailedPrecondition,
      message: "no session for user u-nobody: call JoinRoom first",
    },
  ],
  StreamAudio: [
    {
      what: "a first chunk without user_id",
      call: (b) => streamWith(b, [{ sampleRate: 16_000 }]),
      code: Code.InvalidArgument,
      message: "the first AudioChunk must carry user_id",
    },
    {
      what: "a user without a session",
      call: (b) => streamWith(b, [{ userId: "u-nobody" }]),
      code: Code.FailedPrecondition,
      message: "no session for user u-nobody: call JoinRoom first",
    },
    {
      what: "a 300-byte user_id",
      call: (b) => streamWith(b, [{ userId: long(300) }]),
      code: Code.InvalidArgument,
      message: "user_id is 300 bytes long; at most 256 are accepted",
    },
    {
      what: "odd-length PCM (3 bytes)",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(3) })]),
      code: Code.InvalidArgument,
      message:
        "pcm_data has an odd length of 3 bytes: 16-bit PCM with 1 channel(s) needs a multiple of 2",
    },
    {
      what: "stereo PCM of 6 bytes",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(6), channels: 2 })]),
      code: Code.InvalidArgument,
      message:
        "pcm_data has an odd length of 6 bytes: 16-bit PCM with 2 channel(s) needs a multiple of 4",
    },
    {
      what: "PCM just over MAX_CHUNK_BYTES",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(MAX_CHUNK_BYTES + 2) })]),
      code: Code.InvalidArgument,
      message: `pcm_data is ${MAX_CHUNK_BYTES + 2} bytes, over the limit of ${MAX_CHUNK_BYTES}: send smaller chunks`,
    },
    {
      what: "400 kB of PCM in one chunk",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(400_000) })]),
      code: Code.ResourceExhausted,
      message: /message size \d+ is larger than configured readMaxBytes 196608/,
    },
    {
      what: "sample_rate 7",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4), sampleRate: 7 })]),
      code: Code.InvalidArgument,
      message: "sample_rate 7 is not supported: use 8000..48000 Hz, or 0 for 16000",
    },
    {
      what: "sample_rate 1 000 000",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4), sampleRate: 1_000_000 })]),
      code: Code.InvalidArgument,
      message: "sample_rate 1000000 is not supported: use 8000..48000 Hz, or 0 for 16000",
    },
    {
      what: "sample_rate -16000",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4), sampleRate: -16_000 })]),
      code: Code.InvalidArgument,
      message: "sample_rate -16000 is not supported: use 8000..48000 Hz, or 0 for 16000",
    },
    {
      what: "3 channels",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(12), channels: 3 })]),
      code: Code.InvalidArgument,
      message: "channels 3 is not supported: use 1 (mono), 2 (stereo), or 0 for mono",
    },
    {
      what: "1000 channels",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4000), channels: 1_000 })]),
      code: Code.InvalidArgument,
      message: "channels 1000 is not supported: use 1 (mono), 2 (stereo), or 0 for mono",
    },
    {
      what: "track_id -5",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4), trackId: -5 })]),
      code: Code.InvalidArgument,
      message: "track_id -5 is not valid: use an integer from 0 to 15 (one track each)",
    },
    {
      what: "track_id 1 000 000",
      call: (b) => streamWith(b, [chunk({ pcmData: new Uint8Array(4), trackId: 1_000_000 })]),
      code: Code.InvalidArgument,
      message: "track_id 1000000 is not valid: use an integer from 0 to 15 (one track each)",
    },
    {
      what: "user_id changing mid-stream",
      call: (b) =>
        streamWith(b, [chunk({}), chunk({ userId: "u-other", pcmData: new Uint8Array(4) })]),
      code: Code.InvalidArgument,
      message: `user_id changed mid-stream from ${TARGET} to u-other`,
    },
  ],
  AudioSession: [
    {
      what: "a first message that is not start",
      call: (b) => sessionWith(b, [{ message: { case: "clear", value: { trackId: 0 } } }]),
      code: Code.InvalidArgument,
      message: "the first AudioSessionRequest must be start, with user_id",
    },
    {
      what: "start without user_id",
      call: (b) => sessionWith(b, [{ message: { case: "start", value: {} } }]),
      code: Code.InvalidArgument,
      message: "start.user_id is required",
    },
    {
      what: "a message with nothing set",
      call: (b) => sessionWith(b, [start, { message: { case: undefined } }]),
      code: Code.InvalidArgument,
      message: "an AudioSessionRequest must set one of start, audio, mark, clear, settings",
    },
    {
      what: "a second start",
      call: (b) => sessionWith(b, [start, start]),
      code: Code.InvalidArgument,
      message: "start may only be the first AudioSessionRequest",
    },
    {
      what: "a user without a session",
      call: (b) => sessionWith(b, [{ message: { case: "start", value: { userId: "u-nobody" } } }]),
      code: Code.FailedPrecondition,
      message: "no session for user u-nobody: call JoinRoom first",
    },
    {
      what: "receive_sample_rate 1000 in start's settings",
      call: (b) =>
        sessionWith(b, [
          {
            message: {
              case: "start",
              value: { userId: TARGET, settings: { receiveSampleRate: 1_000 } },
            },
          },
        ]),
      code: Code.InvalidArgument,
      message: "settings.receive_sample_rate must be 0 or 8000..48000, got 1000",
    },
    {
      what: "receive_frame_ms 7 in settings",
      call: (b) =>
        sessionWith(b, [start, { message: { case: "settings", value: { receiveFrameMs: 7 } } }]),
      code: Code.InvalidArgument,
      message: "settings.receive_frame_ms must be 0 or 10..100, got 7",
    },
    {
      what: "a mark without a name",
      call: (b) => sessionWith(b, [start, { message: { case: "mark", value: { trackId: 2 } } }]),
      code: Code.InvalidArgument,
      message: "mark.name is required",
    },
    {
      what: "a mark named with a control character",
      call: (b) =>
        sessionWith(b, [
          start,
          { message: { case: "mark", value: { trackId: 2, name: "a\u0007" } } },
        ]),
      code: Code.InvalidArgument,
      message: "mark.name contains the control character U+0007",
    },
    {
      what: "clear of track 99",
      call: (b) => sessionWith(b, [start, { message: { case: "clear", value: { trackId: 99 } } }]),
      code: Code.InvalidArgument,
      message: "track_id 99 is not valid: use an integer from 0 to 15 (one track each)",
    },
    {
      what: "odd-length audio",
      call: (b) =>
        sessionWith(b, [
          start,
          { message: { case: "audio", value: { pcmData: new Uint8Array(5), sampleRate: 16_000 } } },
        ]),
      code: Code.InvalidArgument,
      message:
        "pcm_data has an odd length of 5 bytes: 16-bit PCM with 1 channel(s) needs a multiple of 2",
    },
    {
      what: "audio at 4 kHz",
      call: (b) =>
        sessionWith(b, [
          start,
          { message: { case: "audio", value: { pcmData: new Uint8Array(4), sampleRate: 4_000 } } },
        ]),
      code: Code.InvalidArgument,
      message: "sample_rate 4000 is not supported: use 8000..48000 Hz, or 0 for 16000",
    },
  ],
};

const SOFT: Record<string, readonly SoftCase[]> = {
  LeaveRoom: [
    {
      what: "a user without a session",
      call: (b) => b.leaveRoom({ userId: "u-nobody" }),
      answer: { success: false, error: "no session for user u-nobody" },
    },
  ],
  GetStatus: [
    {
      what: "a user without a session",
      call: (b) => b.getStatus({ userId: "u-nobody" }),
      answer: { connected: false, metadata: { session: "none" } },
    },
  ],
  StopAudio: [
    {
      what: "an unknown request_id",
      call: (b) => b.stopAudio({ userId: TARGET, requestId: "p-none" }),
      answer: {
        success: false,
        error: `no playback p-none for user ${TARGET} (it ended or never started)`,
      },
    },
  ],
};

describe.skipIf(gate === "skip")(
  "bad input: a table per RPC, over gRPC and Connect JSON (real LiveKit)",
  () => {
    let livekit: LiveKitRig;
    let app: AppOnRig;
    let device: TestParticipant;
    let healthy: CloudStream;
    let mic: Promise<void>;
    let started = 0;
    const protocols = (): Record<string, Bridge> => ({
      gRPC: app.grpc,
      "Connect JSON": app.connectJsonH2,
    });

    beforeAll(async () => {
      livekit = await startLiveKit({ isolate: "on" });
      app = await startAppOnRig(livekit, {
        MAX_CHUNK_BYTES: String(MAX_CHUNK_BYTES),
        JOIN_BURST: "1000",
        JOIN_RATE_PER_MINUTE: "60000",
      });
      // A healthy user whose device talks through the whole suite; the last test checks
      // that its audio never had a gap.
      const room = uniqueRoom("u-healthy");
      expect(
        (
          await app.grpc.joinRoom({
            userId: "u-healthy",
            roomName: room,
            targetIdentity: "glasses",
          })
        ).success,
      ).toBe(true);
      device = await joinParticipant(livekit, room, "glasses");
      healthy = openCloudStream(app.grpc, "u-healthy");
      started = Date.now();
      mic = device
        .publishPcm(sineTone({ frequencyHz: 440, sampleRate: 16_000, durationMs: 40_000 }), {
          sampleRate: 16_000,
        })
        .catch(() => {});
      expect(
        (await app.grpc.joinRoom({ userId: TARGET, roomName: uniqueRoom(TARGET) })).success,
      ).toBe(true);
      await healthy.waitForSamples(16_000, 10_000);
    }, 60_000);

    afterAll(async () => {
      await healthy?.cancel();
      await device?.close();
      // Closing the room ends the device's publishing; do not wait out the whole tone.
      await Promise.race([mic, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      await app?.close();
      await livekit?.close();
    }, 30_000);

    for (const [rpc, cases] of Object.entries(TABLES)) {
      describe(rpc, () => {
        it.each(cases.flatMap((c) => ["gRPC", "Connect JSON"].map((p) => [p, c.what, c] as const)))(
          "over %s, %s",
          async (protocol, _what, bad) => {
            const bridge = protocols()[protocol];
            if (bridge === undefined) throw new Error(protocol);
            const error = await bad.call(bridge).then(
              () => undefined,
              (e: unknown) => ConnectError.from(e),
            );
            expect(error, "the call must fail").toBeInstanceOf(ConnectError);
            expect(Code[error?.code ?? Code.Unknown]).toBe(Code[bad.code]);
            if (typeof bad.message === "string") expect(error?.rawMessage).toBe(bad.message);
            else expect(error?.rawMessage).toMatch(bad.message);
            recordFault({
              kind: "input",
              what: `${rpc} over ${protocol}: ${bad.what}`,
              expected: Code[bad.code],
              observed: `${Code[error?.code ?? Code.Unknown]}: ${error?.rawMessage.slice(0, 120)}`,
            });
          },
        );
        const soft = SOFT[rpc] ?? [];
        if (soft.length > 0) {
          it.each(
            soft.flatMap((c) => ["gRPC", "Connect JSON"].map((p) => [p, c.what, c] as const)),
          )("over %s, %s: an answer, not an error", async (protocol, _what, odd) => {
            const bridge = protocols()[protocol];
            if (bridge === undefined) throw new Error(protocol);
            const answer = await odd.call(bridge);
            expect(answer).toMatchObject(odd.answer);
            recordFault({
              kind: "input",
              what: `${rpc} over ${protocol}: ${odd.what}`,
              expected: `answer ${JSON.stringify(odd.answer)}`,
              observed: "as expected",
            });
          });
        }
      });
    }

    describe("malformed requests on the wire", () => {
      const JOIN = "/mentra.livekit.bridge.LiveKitBridge/JoinRoom";
      const grpcHeaders = { "content-type": "application/grpc", te: "trailers" };
      const envelope = (payload: number[]) => Buffer.from([0, 0, 0, 0, payload.length, ...payload]);

      it.each([
        {
          what: "gRPC: bytes that are no protobuf message",
          send: () => rawGrpc(app.url, JOIN, grpcHeaders, envelope([0xff, 0xff, 0xff, 0xff])),
          status: "13",
          message: /^parse binary: /,
          why: "Internal, as grpc-go and connect-go answer a request that does not unmarshal",
        },
        {
          what: "gRPC: an envelope cut short by END_STREAM (100 bytes announced, 3 sent)",
          send: () => rawGrpc(app.url, JOIN, grpcHeaders, Buffer.from([0, 0, 0, 0, 100, 1, 2, 3])),
          status: "3",
          message: /^protocol error: incomplete envelope$/,
          why: "InvalidArgument",
        },
        {
          what: "gRPC: an unknown field (number 99) next to user_id",
          send: () =>
            rawGrpc(app.url, JOIN, grpcHeaders, envelope([0x0a, 0x01, 0x75, 0x98, 0x06, 0x01])),
          status: "3",
          message: /^room_name is required$/,
          why: "ignored as protobuf says: the request is judged on its known fields",
        },
        {
          what: "gRPC: a compressed envelope without grpc-encoding",
          send: () => rawGrpc(app.url, JOIN, grpcHeaders, Buffer.from([1, 0, 0, 0, 0])),
          status: "13",
          message: /^received compressed envelope, but do not know how to decompress$/,
          why: "Internal, as connect-go answers it",
        },
      ])("$what", async ({ what, send, status, message, why }) => {
        const answer = await send();
        expect(answer.trailers["grpc-status"]).toBe(status);
        expect(decodeURIComponent(String(answer.trailers["grpc-message"]))).toMatch(message);
        recordFault({
          kind: "input",
          what,
          expected: `grpc-status ${status} (${why})`,
          observed: `grpc-status ${answer.trailers["grpc-status"]}: ${decodeURIComponent(String(answer.trailers["grpc-message"]))}`,
        });
      });

      it.each([
        {
          what: "gRPC: content-type application/xml",
          send: () =>
            rawHttp(
              app.url,
              JOIN,
              "2",
              { "content-type": "application/xml", te: "trailers" },
              "<x/>",
            ),
          status: 415,
          body: /^$/,
        },
        {
          what: "Connect: text/plain over HTTP/1.1",
          send: () => rawHttp(app.url, JOIN, "1.1", { "content-type": "text/plain" }, "hello"),
          status: 415,
          body: /^$/,
        },
        {
          what: "Connect: JSON cut off mid-object",
          send: () =>
            rawHttp(app.url, JOIN, "1.1", { "content-type": "application/json" }, '{"user_id":'),
          status: 400,
          body: /"code":"invalid_argument","message":"cannot decode message mentra.livekit.bridge.JoinRoomRequest from JSON: /,
        },
        {
          what: "Connect: a number where user_id needs a string",
          send: () =>
            rawHttp(app.url, JOIN, "1.1", { "content-type": "application/json" }, '{"user_id":5}'),
          status: 400,
          body: /"code":"invalid_argument","message":"cannot decode field mentra.livekit.bridge.JoinRoomRequest.user_id from JSON: expected string, got 5"/,
        },
        {
          what: "Connect: receive_sample_rate beyond int32",
          send: () =>
            rawHttp(
              app.url,
              JOIN,
              "1.1",
              { "content-type": "application/json" },
              '{"user_id":"u","room_name":"r","receive_sample_rate":99999999999}',
            ),
          status: 400,
          body: /"code":"invalid_argument","message":"cannot decode field mentra.livekit.bridge.JoinRoomRequest.receive_sample_rate from JSON: expected number \(int32\): 99999999999 out of range"/,
        },
        {
          what: "Connect: an unknown JSON field next to user_id",
          send: () =>
            rawHttp(
              app.url,
              JOIN,
              "1.1",
              { "content-type": "application/json" },
              '{"user_id":"u","no_such_field":1}',
            ),
          status: 400,
          body: /"code":"invalid_argument","message":"room_name is required"/,
        },
      ])("$what", async ({ what, send, status, body }) => {
        const answer = await send();
        expect(answer.status).toBe(status);
        expect(answer.body).toMatch(body);
        recordFault({
          kind: "input",
          what,
          expected: `HTTP ${status}${status === 415 ? " Unsupported Media Type" : " invalid_argument"}`,
          observed: `HTTP ${answer.status} ${answer.body.slice(0, 140)}`,
        });
      });

      it("gRPC: a stream reset (RST_STREAM) halfway through a message leaves the bridge serving", async () => {
        const answer = await rawGrpc(
          app.url,
          JOIN,
          grpcHeaders,
          Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]),
          {
            resetAfterMs: 100,
          },
        );
        expect(answer.reset).toBe(true);
        const health = await app.grpc.healthCheck({});
        expect(health.status).toBe(1);
        recordFault({
          kind: "input",
          what: "gRPC: the client resets its stream halfway through a message",
          expected: "nothing to answer; the process and other calls go on",
          observed: `stream reset; HealthCheck right after: SERVING, ${health.activeSessions} sessions`,
        });
      });
    });

    it("a healthy session beside every table heard its device without a gap", async () => {
      const chunks = [...healthy.received];
      const times = chunks.map((c) => Number(c.timestampMs));
      let worstGapMs = 0;
      for (let i = 1; i < times.length; i++) {
        worstGapMs = Math.max(worstGapMs, (times[i] ?? 0) - (times[i - 1] ?? 0));
      }
      const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
      const samples = samplesOf(chunks);
      const heardMs = (samples.length / 16_000) * 1000;
      // No audio lost: the samples cover the whole span (chunks are 20 ms). A busy event
      // loop may hand a few chunks over late and together, but never stalls for long.
      expect(Math.abs(heardMs - (spanMs + 20))).toBeLessThan(100);
      expect(worstGapMs).toBeLessThanOrEqual(250);
      expect(Math.abs(dominantFrequency(samples.subarray(-16_000), 16_000) - 440)).toBeLessThan(3);
      expect((await app.grpc.getStatus({ userId: "u-healthy" })).connected).toBe(true);
      recordFault({
        kind: "input",
        what: `A healthy session beside all of the above (${Math.round((Date.now() - started) / 1000)} s)`,
        expected: "its device audio reaches the cloud with no gap; the process never stops",
        observed: `${chunks.length} chunks over ${spanMs} ms, ${Math.round(heardMs)} ms of audio, largest step between chunks ${worstGapMs} ms, tone at 440 Hz`,
      });
    });
  },
);
