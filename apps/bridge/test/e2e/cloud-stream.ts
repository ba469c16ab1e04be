import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type createClient } from "@connectrpc/connect";
import type { AudioChunk, AudioChunkSchema, LiveKitBridge } from "@mentra/bridge-proto";

type Client = ReturnType<typeof createClient<typeof LiveKitBridge>>;
type ChunkInit = MessageInitShape<typeof AudioChunkSchema>;

/** The cloud's side of one StreamAudio call, as a test drives it. */
export interface CloudStream {
  /** Sends a chunk to the bridge (cloud → room). */
  send(chunk: ChunkInit): void;
  /** Chunks received so far (room → cloud). */
  readonly received: AudioChunk[];
  /** Resolves when the call ends: undefined for OK, else the error. */
  readonly ended: Promise<ConnectError | undefined>;
  /** Waits until `count` samples (per channel) have arrived. */
  waitForSamples(count: number, timeoutMs: number): Promise<void>;
  /** Cancels the call from the client side and waits for it to end. */
  cancel(): Promise<void>;
}

/** Opens StreamAudio for `userId` the way the deployed cloud does (empty first chunk). */
export function openCloudStream(client: Client, userId: string): CloudStream {
  const queue: ChunkInit[] = [{ userId, sampleRate: 16_000 }];
  let wake: (() => void) | undefined;
  const controller = new AbortController();
  async function* requests(): AsyncGenerator<ChunkInit> {
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
  const received: AudioChunk[] = [];
  let waiters: (() => void)[] = [];
  const ended = (async () => {
    try {
      for await (const chunk of client.streamAudio(requests(), { signal: controller.signal })) {
        received.push(chunk);
        for (const waiter of waiters) waiter();
      }
      return undefined;
    } catch (error) {
      return ConnectError.from(error);
    } finally {
      for (const waiter of waiters) waiter();
      // As every real client does once the call is over: stop the request side too, so
      // no half-open HTTP/2 stream is left behind (it would hold a graceful shutdown).
      controller.abort();
      wake?.();
    }
  })();
  const samples = () => received.reduce((sum, c) => sum + c.pcmData.byteLength / 2 / c.channels, 0);
  return {
    send(chunk) {
      queue.push(chunk);
      wake?.();
    },
    received,
    ended,
    async waitForSamples(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (samples() < count) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`only ${samples()} of ${count} samples arrived within ${timeoutMs} ms`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters = [];
      }
    },
    async cancel() {
      controller.abort();
      wake?.();
      await ended;
    },
  };
}

/** Concatenates received chunks' little-endian PCM into samples. */
export function samplesOf(chunks: readonly AudioChunk[]): Int16Array {
  const total = chunks.reduce((sum, c) => sum + c.pcmData.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk.pcmData, offset);
    offset += chunk.pcmData.byteLength;
  }
  const view = new DataView(bytes.buffer);
  const out = new Int16Array(total / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Little-endian bytes of samples (test-kit's, re-exported for the e2e files). */
export { leBytes } from "@mentra/test-kit";

/** Big-endian bytes of samples. */
export function beBytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] ?? 0, false);
  return out;
}
