import type { AudioDecoder } from "./decoded-audio.js";
import { PlaybackError } from "./errors.js";
import type { AudioDownload } from "./fetch-audio.js";
import { createMp3Decoder } from "./mp3-decoder.js";
import { findFrame, id3v2Length } from "./mp3-frames.js";
import { sniffFormat } from "./sniff-format.js";
import { createWavDecoder, parseWavHeader } from "./wav-decoder.js";

/** A decoder ready for the body, and the bytes read to choose it (not decoded yet). */
export interface OpenedDecoder {
  readonly decoder: AudioDecoder;
  readonly head: Uint8Array;
  /** The whole body has been read already. */
  readonly ended: boolean;
}

/**
 * Reads the first bytes of a download until the format is known from them (never from
 * the URL or Content-Type) and its header is complete, then creates the decoder.
 * Rejects with a PlaybackError: `empty`, `unsupported_format`, `decode_error`, or
 * whatever the download fails with.
 */
export async function openDecoder(download: AudioDownload): Promise<OpenedDecoder> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  let head: Uint8Array = new Uint8Array(0);
  const readMore = async () => {
    const chunk = await download.read();
    if (chunk === undefined) ended = true;
    else {
      parts.push(chunk);
      size += chunk.length;
      head = join(parts, size);
    }
  };
  for (;;) {
    const sniffed = sniffFormat(head, ended);
    if (sniffed.kind === "unsupported") {
      if (head.length === 0) {
        throw new PlaybackError("empty", `the body from ${download.url} is empty (0 bytes)`);
      }
      const type = download.contentType === "" ? "" : `, Content-Type ${download.contentType}`;
      throw new PlaybackError(
        "unsupported_format",
        `unsupported format: ${sniffed.reason} (${head.length} bytes${type})`,
      );
    }
    if (sniffed.kind === "wav") {
      const header = parseWavHeader(head, ended);
      if (header !== undefined) return { decoder: createWavDecoder(header), head, ended };
    } else if (sniffed.kind === "mp3" && (ended || mp3HeadComplete(head))) {
      const decoder = await createMp3Decoder(head, { contentLength: download.contentLength });
      return { decoder, head, ended };
    }
    await readMore();
  }
}

/** Whether `head` reaches past its ID3 tags into a confirmed first frame. */
function mp3HeadComplete(head: Uint8Array): boolean {
  let offset = 0;
  for (;;) {
    const tag = id3v2Length(head, offset);
    if (tag === undefined) return false;
    if (tag === 0) break;
    offset += tag;
  }
  return findFrame(head, offset, 65_536)?.confirmed === true;
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  parts.length = 0;
  parts.push(out);
  return out;
}
