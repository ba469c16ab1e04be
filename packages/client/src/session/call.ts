import type { AudioSessionResponse } from "@mentra/bridge-proto";
import type { BridgeError } from "../errors.js";
import type { AudioFrame } from "./types.js";

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
  const samples = fromBytes(chunk.pcmData);
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

/** 16-bit little-endian PCM bytes as samples, whatever the machine's byte order. */
function fromBytes(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}
