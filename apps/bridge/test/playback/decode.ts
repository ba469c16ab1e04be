import { concatPcm } from "@mentra/test-kit";
import type { DecodedPcm } from "../../src/playback/decoded-audio.js";
import { PlaybackError } from "../../src/playback/errors.js";
import type { AudioDownload } from "../../src/playback/fetch-audio.js";
import { toInt16WithGain } from "../../src/playback/gain.js";
import { openDecoder } from "../../src/playback/open-decoder.js";

/** A download that hands out `body` in pieces of `chunkBytes`, as a slow network would. */
export function downloadOf(
  body: Uint8Array,
  chunkBytes: number,
  contentLength?: number,
): AudioDownload {
  let offset = 0;
  return {
    url: "http://127.0.0.1/test",
    contentType: "",
    contentLength,
    async read() {
      if (offset >= body.length) return undefined;
      const piece = body.subarray(offset, offset + chunkBytes);
      offset += piece.length;
      return piece;
    },
    receivedBytes: () => offset,
    heldBytes: () => 0,
    destroy() {},
  };
}

/** Everything a body decodes to, as mono 16-bit PCM (channel 0), plus the format. */
export async function decodeAll(body: Uint8Array, chunkBytes = 1_000, contentLength?: number) {
  const download = downloadOf(body, chunkBytes, contentLength);
  const { decoder, head, ended } = await openDecoder(download);
  const parts: DecodedPcm[] = [...decoder.push(head)];
  let error: PlaybackError | undefined;
  try {
    if (!ended) {
      for (;;) {
        const chunk = await download.read();
        if (chunk === undefined) break;
        parts.push(...decoder.push(chunk));
      }
    }
    parts.push(...decoder.end());
  } catch (caught) {
    if (!(caught instanceof PlaybackError)) throw caught;
    error = caught;
  } finally {
    decoder.free();
  }
  const channels = parts[0]?.channels ?? 1;
  const mono = concatPcm(
    parts.map((p) => {
      const first = new Float32Array(p.samples.length / p.channels);
      for (let i = 0; i < first.length; i++) first[i] = p.samples[i * p.channels] ?? 0;
      return toInt16WithGain(first, 1);
    }),
  );
  const sampleRate = parts[0]?.sampleRate ?? decoder.format.sampleRate;
  return {
    format: decoder.format,
    mono,
    sampleRate,
    channels,
    durationMs: (mono.length / sampleRate) * 1000,
    error,
  };
}

/** The PlaybackError a body fails to open with. */
export async function openError(body: Uint8Array): Promise<PlaybackError> {
  try {
    const opened = await openDecoder(downloadOf(body, 512));
    opened.decoder.free();
  } catch (error) {
    if (error instanceof PlaybackError) return error;
    throw error;
  }
  throw new Error("the body opened, expected a PlaybackError");
}
