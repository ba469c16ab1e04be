/** One piece of room audio on its way to the cloud, as StreamAudio sends it. */
export interface CloudChunk {
  /** 16-bit little-endian PCM. */
  readonly pcm: Uint8Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Wall-clock ms at which the bridge received the chunk's first sample. */
  readonly timestampMs: number;
  /** performance.now() when the chunk's audio reached the bridge's JavaScript. */
  readonly receivedAt: number;
  /** The session's numbering of room audio, from 1, without gaps. */
  readonly sequence: number;
  /** The participant the audio came from. */
  readonly identity: string;
}

/** Duration of a chunk in milliseconds, the unit the outbound queue is bounded in. */
export function chunkMs(chunk: CloudChunk): number {
  return (chunk.pcm.byteLength / 2 / chunk.channels / chunk.sampleRate) * 1000;
}
