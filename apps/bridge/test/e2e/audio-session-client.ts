import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type createClient } from "@connectrpc/connect";
import type {
  AudioSessionRequestSchema,
  AudioSessionResponse,
  LiveKitBridge,
} from "@mentra/bridge-proto";

type Client = ReturnType<typeof createClient<typeof LiveKitBridge>>;
type RequestInit = MessageInitShape<typeof AudioSessionRequestSchema>;

/** A response with the wall-clock time the test received it. */
export interface TimedResponse {
  readonly at: number;
  readonly response: AudioSessionResponse;
}

/** The cloud's side of one AudioSession call, as a test drives it. */
export interface AudioSessionCall {
  send(message: RequestInit): void;
  /** Every response so far, in order. */
  readonly received: TimedResponse[];
  /** Responses of one kind, e.g. "markPlayed". */
  of<K extends NonNullable<AudioSessionResponse["message"]["case"]>>(
    kind: K,
  ): { at: number; value: Extract<AudioSessionResponse["message"], { case: K }>["value"] }[];
  /** Resolves when the call ends: undefined for OK, else its error. */
  readonly ended: Promise<ConnectError | undefined>;
  /** Cancels the call from the client side (a broken stream, as the bridge sees it). */
  cancel(): Promise<void>;
}

/** Opens AudioSession with `start` as its first message. */
export function openAudioSession(client: Client, start: RequestInit): AudioSessionCall {
  const queue: RequestInit[] = [start];
  let wake: (() => void) | undefined;
  const controller = new AbortController();
  async function* requests(): AsyncGenerator<RequestInit> {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (controller.signal.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  }
  const received: TimedResponse[] = [];
  const ended = (async () => {
    try {
      for await (const response of client.audioSession(requests(), {
        signal: controller.signal,
      })) {
        received.push({ at: Date.now(), response });
      }
      return undefined;
    } catch (error) {
      return ConnectError.from(error);
    } finally {
      controller.abort();
      wake?.();
    }
  })();
  return {
    send(message) {
      queue.push(message);
      wake?.();
    },
    received,
    of(kind) {
      return received
        .filter((r) => r.response.message.case === kind)
        .map((r) => ({ at: r.at, value: r.response.message.value as never }));
    },
    ended,
    async cancel() {
      controller.abort();
      wake?.();
      await ended;
    },
  };
}
