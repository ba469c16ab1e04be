import { int16FromLittleEndian, validateChunkFormat, validateTrackId } from "../audio/pcm.js";
import { toConnectError } from "./errors.js";

/** Cloud audio as StreamAudio's AudioChunk and AudioSession's CloudAudio carry it. */
export interface CloudAudioFields {
  readonly trackId: number;
  readonly pcmData: Uint8Array;
  readonly sampleRate: number;
  readonly channels: number;
}

/** Checked cloud audio, ready for Session.writeAudio (samples empty for an empty chunk). */
export interface CloudAudio {
  readonly trackId: number;
  readonly samples: Int16Array;
  readonly sampleRate: number;
  readonly channels: number;
}

/**
 * Checks a chunk of cloud audio against the contract: track id, rate, channels, size
 * and length. Throws InvalidArgument naming the field.
 */
export function checkCloudAudio(fields: CloudAudioFields, maxChunkBytes: number): CloudAudio {
  try {
    const trackId = validateTrackId(fields.trackId);
    if (fields.pcmData.byteLength === 0) {
      return { trackId, samples: new Int16Array(0), sampleRate: 16_000, channels: 1 };
    }
    const format = validateChunkFormat({
      sampleRate: fields.sampleRate,
      channels: fields.channels,
      byteLength: fields.pcmData.byteLength,
      maxBytes: maxChunkBytes,
    });
    return {
      trackId,
      samples: int16FromLittleEndian(fields.pcmData),
      sampleRate: format.sampleRate,
      channels: format.channels,
    };
  } catch (error) {
    // A PcmFormatError names the field: InvalidArgument (see errors.ts).
    throw toConnectError(error);
  }
}
