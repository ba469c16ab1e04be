import type { AudioDecoder } from "./decoded-audio.js";
import { decodeError, PlaybackError } from "./errors.js";
import type { AudioDownload } from "./fetch-audio.js";
import { createMp3Decoder, MAX_JUNK_BYTES } from "./mp3-decoder.js";
import { findFrame, id3v2Length } from "./mp3-frames.js";
import { sniffFormat } from "./sniff-format.js";
import { createWavDecoder, parseWavHeader } from "./wav-decoder.js";

/**
 * Most bytes the bridge holds while it looks for the start of the audio: the junk an
 * MP3 may have between its ID3 tags and its first frame (64 kB) plus two frames, or a
 * WAV's fmt chunk and chunk headers. ID3 tags and WAV chunks other than `fmt ` and
 * `data` are skipped as they stream in and never held, whatever size they claim.
 */
export const MAX_HEADER_BYTES = 72 * 1024;

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
 * Linear in the bytes read, holding at most {@link MAX_HEADER_BYTES} plus one network
 * chunk. Rejects with a PlaybackError: `empty`, `unsupported_format`, `decode_error`, or
 * whatever the download fails with.
 */
export async function openDecoder(download: AudioDownload): Promise<OpenedDecoder> {
  const held = new HeldBytes();
  let ended = false;
  // Bytes of the body still to drop unread: the rest of an ID3 tag or a skipped WAV chunk.
  let skip = 0;
  let kind: "wav" | "mp3" | undefined;
  let tagBytes = 0;
  let wavScan = 12;
  const readMore = async () => {
    let chunk = await download.read();
    if (chunk === undefined) {
      ended = true;
      return;
    }
    if (skip > 0) {
      const dropped = Math.min(skip, chunk.length);
      skip -= dropped;
      chunk = chunk.subarray(dropped);
    }
    held.append(chunk);
  };
  for (; ; await readMore()) {
    if (kind === undefined) {
      const head = held.view();
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
      if (sniffed.kind === "more") continue;
      kind = sniffed.kind;
    }
    if (skip > 0 && !ended) continue;
    if (kind === "wav") {
      wavScan = skipWavChunks(held, wavScan, (rest) => {
        skip = rest;
      });
      if (skip > 0 && !ended) continue;
      const head = held.view();
      const header = parseWavHeader(head, ended);
      if (header !== undefined) return { decoder: createWavDecoder(header), head, ended };
    } else {
      const tagsDone = skipId3Tags(held, (tag, rest) => {
        tagBytes += tag;
        skip = rest;
      });
      if (skip > 0 && !ended) continue;
      const head = held.view();
      if (ended || (tagsDone && findFrame(head, 0, MAX_JUNK_BYTES)?.confirmed === true)) {
        const { contentLength } = download;
        const decoder = await createMp3Decoder(head, { contentLength, skippedBytes: tagBytes });
        return { decoder, head, ended };
      }
    }
    if (held.length > MAX_HEADER_BYTES) {
      const where = kind === "wav" ? "the WAV header" : "the start of the MP3 audio";
      throw decodeError(`${where} is not complete within ${MAX_HEADER_BYTES} bytes`);
    }
  }
}

/**
 * Drops the ID3v2 tags at the start of `held`; `skipped` is told each tag's size and
 * how much of it is still to come. True once the bytes after the tags are reached.
 */
function skipId3Tags(held: HeldBytes, skipped: (tag: number, rest: number) => void): boolean {
  for (;;) {
    const tag = id3v2Length(held.view(), 0);
    if (tag === undefined) return false;
    if (tag === 0) return true;
    const inHeld = Math.min(tag, held.length);
    held.remove(0, inHeld);
    skipped(tag, tag - inHeld);
    if (tag > inHeld) return false;
  }
}

/**
 * Drops the WAV chunks other than `fmt ` and `data` from `held`, starting at the chunk
 * at `offset`; returns where the scan stopped (the data chunk, or bytes still missing).
 * `skipping` is told how much of a dropped chunk is still to come.
 */
function skipWavChunks(held: HeldBytes, offset: number, skipping: (rest: number) => void): number {
  let at = offset;
  while (at + 8 <= held.length) {
    const bytes = held.view();
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    if (id === "data") return at;
    const size = new DataView(bytes.buffer, bytes.byteOffset + at + 4, 4).getUint32(0, true);
    const length = 8 + size + (size % 2);
    if (id === "fmt ") {
      at += length;
      continue;
    }
    const inHeld = Math.min(length, held.length - at);
    held.remove(at, inHeld);
    if (length > inHeld) {
      skipping(length - inHeld);
      return at;
    }
  }
  return at;
}

/** A growable byte buffer (capacity doubles), so appending n bytes costs O(n) overall. */
class HeldBytes {
  private bytes = new Uint8Array(4_096);
  length = 0;

  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.bytes.length) {
      let capacity = this.bytes.length;
      while (capacity < this.length + chunk.length) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** Removes `count` bytes at `offset`, moving the rest down. */
  remove(offset: number, count: number): void {
    this.bytes.copyWithin(offset, offset + count, this.length);
    this.length -= count;
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
