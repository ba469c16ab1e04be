import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import {
  type AudioChunk,
  AudioChunkSchema,
  BridgeStatusResponseSchema,
  JoinRoomResponseSchema,
  LeaveRoomResponseSchema,
  LiveKitBridge,
  PlayAudioEvent_EventType,
  PlayAudioEventSchema,
} from "@mentra/bridge-proto";

/** One StreamAudio call as the fake bridge saw it. */
export interface FakeStream {
  readonly received: AudioChunk[];
  /** Sends a chunk to the client. */
  push(chunk: Partial<{ pcmData: Uint8Array; sampleRate: number; timestampMs: bigint }>): void;
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
  connected = true;
  joinError = "";
  private streamWaiters: (() => void)[] = [];
  readonly transport: Transport;

  constructor() {
    this.transport = createRouterTransport(({ service }) => {
      service(LiveKitBridge, {
        joinRoom: (request) => {
          this.calls.push("JoinRoom");
          this.tokens.push(request.token);
          if (this.joinError !== "") {
            return create(JoinRoomResponseSchema, { success: false, error: this.joinError });
          }
          this.connected = true;
          return create(JoinRoomResponseSchema, { success: true, participantCount: 1 });
        },
        leaveRoom: () => {
          this.calls.push("LeaveRoom");
          return create(LeaveRoomResponseSchema, { success: true });
        },
        getStatus: () => {
          this.calls.push("GetStatus");
          return create(BridgeStatusResponseSchema, {
            connected: this.connected,
            participantCount: 2,
            metadata: { session: this.connected ? "open" : "closed" },
          });
        },
        streamAudio: (requests, context) => this.stream(requests, context.signal),
        playAudio: (request, context) => this.play(request.requestId, context.signal),
      });
    });
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

  private async *stream(requests: AsyncIterable<AudioChunk>, signal: AbortSignal) {
    this.calls.push("StreamAudio");
    const outbox: AudioChunk[] = [];
    const received: AudioChunk[] = [];
    let ended: { error: ConnectError | undefined } | undefined;
    let wake: (() => void) | undefined;
    let audioWaiters: (() => void)[] = [];
    const stream: FakeStream = {
      received,
      push(chunk) {
        outbox.push(create(AudioChunkSchema, { sampleRate: 16_000, channels: 1, ...chunk }));
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
        for await (const chunk of requests) {
          received.push(chunk);
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
