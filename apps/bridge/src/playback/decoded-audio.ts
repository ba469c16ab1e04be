/** What a decoder knows about the audio once it has read the header. */
export interface AudioFormat {
  readonly codec: "mp3" | "wav";
  readonly sampleRate: number;
  readonly channels: number;
  /** Length of the whole audio; 0 when it cannot be known. */
  readonly durationMs: number;
  /** Where `durationMs` comes from. */
  readonly durationSource: "header" | "estimate" | "unknown";
  /** For people and logs, e.g. "WAV 24-bit PCM, 8000 Hz, 1 channel". */
  readonly description: string;
}

/** Interleaved samples in [-1, 1] as decoded, before gain. */
export interface DecodedPcm {
  readonly samples: Float32Array;
  readonly sampleRate: number;
  readonly channels: number;
}

/** A progressive decoder: bytes in as they arrive, PCM out as soon as it can be decoded. */
export interface AudioDecoder {
  readonly format: AudioFormat;
  /** Decodes what it can of the next bytes; throws a decode_error PlaybackError. */
  push(bytes: Uint8Array): DecodedPcm[];
  /** The body ended: returns the rest, or throws a decode_error PlaybackError if cut off. */
  end(): DecodedPcm[];
  /** Releases the decoder's memory. Idempotent. */
  free(): void;
}

/** "1 channel", "2 channels". */
export function channelWord(channels: number): string {
  return channels === 1 ? "1 channel" : `${channels} channels`;
}
