import * as http2 from "node:http2";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type AudioChunk,
  AudioChunkSchema,
  type AudioSessionRequest,
  type AudioSessionResponseSchema,
  type AudioSessionStart,
  BridgeStatusResponseSchema,
  JoinRoomResponseSchema,
  LeaveRoomResponseSchema,
  LiveKitBridge,
  PlayAudioEvent_EventType,
  PlayAudioEventSchema,
} from "@mentra/bridge-proto";

/** One AudioSession call as the fake bridge saw it. */
export interface FakeStream {
  /** The start message, once it came. */
  start: AudioSessionStart | undefined;
  /** Start and audio, as AudioChunks (the start carries only user_id). */
  readonly received: AudioChunk[];
  /** Marks and clears, in order. */
  readonly controls: { kind: "mark" | "clear"; trackId: number; name: string }[];
  /** Sends a chunk to the client. */
  push(chunk: Partial<{ pcmData: Uint8Array; sampleRate: number; timestampMs: bigint }>): void;
  /** Tells the client this bridge drains (AudioSession's `draining`). */
  drain(): void;
  /** Ends the call with an error (or OK when undefined). */
  end(error?: ConnectError): void;
  /** Resolves once the client's messages include `count` chunks with audio. */
  waitForAudio(count: number): Promise<void>;
}

/**
 * An in-memory bridge for client tests: records every call and lets the test end
 * streams with any code and decide whether GetStatus reports the user connected.
 */
export class FakeBridge {
  readonly calls: string[] = [];
  readonly streams: FakeStream[] = [];
  readonly tokens: string[] = [];
  /** Whether each JoinRoom was a handover, in order. */
  readonly handovers: boolean[] = [];
  connected = true;
  /** The last room-audio sequence sent, over every call. */
  sequence = 0;
  /** Milliseconds of cloud audio received per track, over every call. */
  readonly playedMs = new Map<number, number>();
  joinError = "";
  /** A bridge that is down: every call fails as an unreachable server's would. */
  down = false;
  /** Users that joined this bridge. */
  readonly joined = new Set<string>();
  private streamWaiters: (() => void)[] = [];
  readonly transport: Transport;
  private readonly routes: (router: ConnectRouter) => void;
  private readonly unreachable: Interceptor;

  constructor() {
    this.unreachable = (next) => (req) => {
      if (this.down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
      return next(req);
    };
    this.routes = ({ service }) => {
      service(LiveKitBridge, {
        joinRoom: (request) => {
          this.calls.push("JoinRoom");
          this.tokens.push(request.token);
          this.handovers.push(request.handover);
          if (this.joinError !== "") {
            return create(JoinRoomResponseSchema, { success: false, error: this.joinError });
          }
          this.connected = true;
          this.joined.add(request.userId);
          return create(JoinRoomResponseSchema, { success: true, participantCount: 1 });
        },
        leaveRoom: () => {
          this.calls.push("LeaveRoom");
          return create(LeaveRoomResponseSchema, { success: true });
        },
        getStatus: (request) => {
          this.calls.push("GetStatus");
          const known = this.joined.has(request.userId);
          const connected = this.connected && known;
          return create(BridgeStatusResponseSchema, {
            connected,
            participantCount: 2,
            metadata: { session: connected ? "open" : known ? "closed" : "none" },
          });
        },
        audioSession: (requests, context) => this.session(requests, context.signal),
        playAudio: (request, context) => this.play(request.requestId, context.signal),
      });
    };
    this.transport = createRouterTransport(this.routes, {
      router: { interceptors: [this.unreachable] },
    });
  }

  /**
   * Serves this bridge over real HTTP/2 (h2c, as the client's default gRPC transport
   * calls it) on `host:port` (port 0: a free one), as well as in memory. Resolves with
   * the port and the function that stops it (closing the clients' connections too).
   */
  async listen(host: string, port = 0): Promise<{ port: number; close: () => Promise<void> }> {
    const server = http2.createServer(
      connectNodeAdapter({ routes: this.routes, interceptors: [this.unreachable] }),
    );
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on("session", (session) => {
      sessions.add(session);
      session.on("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    return {
      port: address.port,
      close: async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of sessions) session.destroy();
        await closed;
      },
    };
  }

  /** Resolves once `count` StreamAudio calls have been opened. */
  async waitForStreams(count: number): Promise<FakeStream> {
    while (this.streams.length < count) {
      await new Promise<void>((resolve) => this.streamWaiters.push(resolve));
    }
    const stream = this.streams[count - 1];
    if (stream === undefined) throw new Error("unreachable");
    return stream;
  }

  /** PlayAudio: STARTED, then nothing until the call is cancelled. */
  private async *play(requestId: string, signal: AbortSignal) {
    this.calls.push("PlayAudio");
    yield create(PlayAudioEventSchema, { type: PlayAudioEvent_EventType.STARTED, requestId });
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    throw new ConnectError("cancelled", Code.Canceled);
  }

  /**
   * AudioSession as the client uses it: requests are recorded as AudioChunks (the start
   * as one with only user_id), marks and clears in `controls` and answered at once; room
   * audio pushed by the test goes out numbered.
   */
  private async *session(requests: AsyncIterable<AudioSessionRequest>, signal: AbortSignal) {
    this.calls.push("AudioSession");
    const outbox: MessageInitShape<typeof AudioSessionResponseSchema>[] = [];
    const received: AudioChunk[] = [];
    const controls: FakeStream["controls"] = [];
    const playedMs = this.playedMs;
    let ended: { error: ConnectError | undefined } | undefined;
    let wake: (() => void) | undefined;
    let audioWaiters: (() => void)[] = [];
    const bridge = this;
    const stream: FakeStream = {
      received,
      controls,
      start: undefined,
      push(chunk) {
        bridge.sequence++;
        outbox.push({
          message: {
            case: "audio",
            value: {
              sampleRate: 16_000,
              channels: 1,
              ...chunk,
              sequence: BigInt(bridge.sequence),
            },
          },
        });
        wake?.();
      },
      drain() {
        outbox.push({
          message: {
            case: "draining",
            value: { deadlineMs: BigInt(Date.now() + 5_000), reason: "test" },
          },
        });
        wake?.();
      },
      end(error) {
        ended = { error };
        wake?.();
      },
      async waitForAudio(count) {
        while (received.filter((c) => c.pcmData.byteLength > 0).length < count) {
          await new Promise<void>((resolve) => audioWaiters.push(resolve));
        }
      },
    };
    this.streams.push(stream);
    for (const waiter of this.streamWaiters.splice(0)) waiter();
    void (async () => {
      try {
        for await (const request of requests) {
          const { message } = request;
          if (message.case === "start") {
            stream.start = message.value;
            received.push(create(AudioChunkSchema, { userId: message.value.userId }));
          } else if (message.case === "audio") {
            const { trackId, pcmData, sampleRate, channels } = message.value;
            received.push(create(AudioChunkSchema, { trackId, pcmData, sampleRate, channels }));
            const ms = (pcmData.byteLength / 2 / (channels || 1) / (sampleRate || 16_000)) * 1000;
            playedMs.set(trackId, (playedMs.get(trackId) ?? 0) + ms);
          } else if (message.case === "mark") {
            const { trackId, name } = message.value;
            controls.push({ kind: "mark", trackId, name });
            const positionMs = BigInt(Math.round(playedMs.get(trackId) ?? 0));
            outbox.push({ message: { case: "markPlayed", value: { trackId, name, positionMs } } });
            wake?.();
          } else if (message.case === "clear") {
            const { trackId } = message.value;
            controls.push({ kind: "clear", trackId, name: "" });
            const played = BigInt(Math.round(playedMs.get(trackId) ?? 0));
            outbox.push({ message: { case: "cleared", value: { trackId, playedMs: played } } });
            wake?.();
          }
          for (const waiter of audioWaiters.splice(0)) waiter();
        }
      } catch {
        // the call ended
      }
    })();
    const onAbort = () => {
      ended ??= { error: new ConnectError("client went away", Code.Canceled) };
      wake?.();
    };
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        const next = outbox.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (ended !== undefined) {
          if (ended.error !== undefined) throw ended.error;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      audioWaiters = [];
    }
  }
}
