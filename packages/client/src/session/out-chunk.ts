import { int16ToLittleEndianBytes } from "@mentra/pcm";
import type { SendOptions } from "./types.js";

/** A mark or clear sent and not answered yet; `sentOn` is the stream that carried it. */
export interface Pending {
  sentOn: AbortController | undefined;
}

/** What the send queue holds: audio for a track, or a mark or clear between its audio. */
export type OutChunk =
  | {
      readonly kind: "audio";
      readonly bytes: Uint8Array;
      readonly trackId: number;
      readonly sampleRate: number;
      readonly channels: number;
      readonly durationMs: number;
    }
  | {
      readonly kind: "mark" | "clear";
      readonly trackId: number;
      readonly name: string;
      readonly durationMs: 0;
      readonly pending: Pending;
    };

/** PCM from {@link BridgeSession.send} as the send queue holds it (little-endian bytes). */
export function audioChunk(samples: Int16Array, options: SendOptions): OutChunk {
  const sampleRate = options.sampleRate ?? 16_000;
  const channels = options.channels ?? 1;
  return {
    kind: "audio",
    bytes: int16ToLittleEndianBytes(samples),
    trackId: options.trackId ?? 0,
    sampleRate,
    channels,
    durationMs: (samples.length / channels / sampleRate) * 1000,
  };
}
