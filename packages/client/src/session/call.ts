import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type {
  AudioSessionRequestSchema,
  AudioSessionResponse,
  LiveKitBridge,
} from "@mentra/bridge-proto";
import { type DropOldestQueue, int16FromLittleEndian } from "@mentra/pcm";
import { BridgeError, toBridgeError } from "../errors.js";
import type { OutChunk } from "./out-chunk.js";
import type { AudioFrame } from "./types.js";

/**
 * The mark a handover places on each of the old bridge's tracks: once it is played, the
 * old bridge has played everything it was sent, and the new one may start.
 */
export const HANDOVER_MARK = "mentra.handover";

type RequestInit = MessageInitShape<typeof AudioSessionRequestSchema>;

/** Room audio as the session queues it: a frame and its length. */
export interface InFrame extends AudioFrame {
  readonly durationMs: number;
}

/** One AudioSession call of the session (two at once during a handover). */
export interface Call {
  readonly controller: AbortController;
  /** Aborted: the call takes nothing more from the send queue and marks every track. */
  readonly stopSending: AbortController;
  /** Resolves when the call may take from the send queue. */
  readonly sending: Promise<void>;
  startSending(): void;
  /** The tracks the call carried audio on. */
  readonly tracks: Set<number>;
  /** Where the call's messages go (the session's receive, or a handover's). */
  onMessage: (response: AudioSessionResponse) => void;
  /** Settles when the call ended: undefined for OK, else why. */
  done: Promise<BridgeError | undefined>;
}

/** One frame of room audio as the cloud receives it, from an AudioSession message. */
export function toFrame(chunk: {
  pcmData: Uint8Array;
  sampleRate: number;
  channels: number;
  timestampMs: bigint;
}): InFrame {
  // An odd trailing byte is no sample; it is left out rather than failing the frame.
  const samples = int16FromLittleEndian(chunk.pcmData.subarray(0, chunk.pcmData.byteLength & ~1));
  const channels = chunk.channels || 1;
  const sampleRate = chunk.sampleRate || 16_000;
  return {
    samples,
    sampleRate,
    channels,
    timestampMs: Number(chunk.timestampMs),
    durationMs: (samples.length / channels / sampleRate) * 1000,
  };
}

/** Opens an AudioSession call on a bridge; see {@link createCallOpener}. */
export type OpenCall = (
  client: Client<typeof LiveKitBridge>,
  resumeAfter: number,
  sendNow: boolean,
) => Call;

/** What every AudioSession call of a session shares. */
export interface CallOpenerOptions {
  readonly userId: string;
  readonly statsIntervalMs: number;
  /** Where the calls take audio, marks and clears from. */
  readonly outgoing: DropOldestQueue<OutChunk>;
  /** The session's life: aborting it ends every call. */
  readonly signal: AbortSignal;
  /** Where a call's messages go unless it is given another `onMessage`. */
  readonly receive: (response: AudioSessionResponse) => void;
  /** The bridge sent something (the liveness clock). */
  readonly onActivity: () => void;
  /** A call ended, just before its `done` settles. */
  readonly onEnded: (call: Call) => void;
}

/**
 * Returns the function that opens an AudioSession call on `client` and runs it until it
 * ends (`done`, undefined for OK). A call takes from the send queue once `startSending()`
 * is called (at once when `sendNow`), until `stopSending` is aborted; what it receives
 * goes to `onMessage`. It resumes after `resumeAfter` (a room-audio sequence) if above 0.
 */
export function createCallOpener(options: CallOpenerOptions): OpenCall {
  const { userId, statsIntervalMs, outgoing, signal: life } = options;

  async function* requests(call: Call, resumeAfter: number): AsyncGenerator<RequestInit> {
    yield {
      message: {
        case: "start",
        value: {
          userId,
          settings: { statsIntervalMs },
          ...(resumeAfter > 0 ? { resumeAfterSequence: BigInt(resumeAfter) } : {}),
        },
      },
    };
    await call.sending;
    for (;;) {
      // Stopping sending withdraws the wait (a rejection): the call then marks its tracks.
      const next = await outgoing.next(call.stopSending.signal).catch(() => undefined);
      if (next === undefined || next.done === true) break;
      const item = next.value;
      if (item.kind !== "audio") {
        item.pending.sentOn = call.controller;
        yield item.kind === "mark"
          ? { message: { case: "mark", value: { trackId: item.trackId, name: item.name } } }
          : { message: { case: "clear", value: { trackId: item.trackId } } };
      } else {
        call.tracks.add(item.trackId);
        yield {
          message: {
            case: "audio",
            value: {
              pcmData: item.bytes,
              sampleRate: item.sampleRate,
              channels: item.channels,
              trackId: item.trackId,
            },
          },
        };
      }
    }
    // Handed over: a mark after the last audio of every track, answered once it played.
    if (call.controller.signal.aborted) return;
    for (const trackId of call.tracks) {
      yield { message: { case: "mark", value: { trackId, name: HANDOVER_MARK } } };
    }
  }

  async function runCall(
    call: Call,
    client: Client<typeof LiveKitBridge>,
    resumeAfter: number,
  ): Promise<BridgeError | undefined> {
    const { controller } = call;
    const onAbort = () => {
      // Ends a request generator still waiting to send, and the call with it.
      call.stopSending.abort();
      call.startSending();
    };
    const onLife = () => controller.abort(life.reason);
    controller.signal.addEventListener("abort", onAbort, { once: true });
    life.addEventListener("abort", onLife, { once: true });
    try {
      for await (const response of client.audioSession(requests(call, resumeAfter), {
        signal: controller.signal,
      })) {
        options.onActivity();
        call.onMessage(response);
      }
      return undefined;
    } catch (error) {
      const mapped = toBridgeError(error);
      // A server that dies resets its HTTP/2 streams with CANCEL, which Connect reports as
      // Canceled; only a cancellation of our own is final.
      if (mapped.kind === "cancelled" && !controller.signal.aborted) {
        return new BridgeError("unavailable", mapped.message, { code: mapped.code, cause: error });
      }
      return mapped;
    } finally {
      // Stops the request generator too, so it takes no more audio from the queue.
      controller.abort();
      controller.signal.removeEventListener("abort", onAbort);
      life.removeEventListener("abort", onLife);
      options.onEnded(call);
    }
  }

  return (client, resumeAfter, sendNow) => {
    const controller = new AbortController();
    const stopSending = new AbortController();
    let startSending = () => {};
    const sending = sendNow
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          startSending = resolve;
        });
    const call: Call = {
      controller,
      stopSending,
      sending,
      startSending: () => startSending(),
      tracks: new Set(),
      onMessage: options.receive,
      done: Promise.resolve(undefined),
    };
    call.done = runCall(call, client, resumeAfter);
    return call;
  };
}
