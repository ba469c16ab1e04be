import { findFrame, id3v2Length } from "./mp3-frames.js";

/** What the first bytes of a body are, or that more are needed to tell. */
export type Sniffed =
  | { readonly kind: "wav" }
  | { readonly kind: "mp3" }
  | { readonly kind: "more" }
  | { readonly kind: "unsupported"; readonly reason: string };

/** How far past the ID3 tag the first MPEG frame may start (junk some encoders leave). */
const FRAME_SEARCH_BYTES = 4_096;

/**
 * Tells the format from the bytes alone, never from the URL or Content-Type: RIFF/RF64
 * WAVE is WAV; an ID3v2 tag or two consecutive valid MPEG frame headers is MP3.
 * `ended` says the body is complete, so "more" is no longer an answer.
 */
export function sniffFormat(head: Uint8Array, ended: boolean): Sniffed {
  if (head.length < 12 && !ended) return { kind: "more" };
  const magic = ascii(head, 0, 4);
  if ((magic === "RIFF" || magic === "RF64") && ascii(head, 8, 4) === "WAVE")
    return { kind: "wav" };
  if (magic === "RIFX") {
    return { kind: "unsupported", reason: "a big-endian WAV (RIFX), which is not supported" };
  }
  if ((id3v2Length(head) ?? 0) > 0) return { kind: "mp3" };
  const frame = findFrame(head, 0, FRAME_SEARCH_BYTES);
  if (frame !== undefined && (frame.confirmed || ended)) return { kind: "mp3" };
  if (!ended && (frame !== undefined || head.length < FRAME_SEARCH_BYTES)) return { kind: "more" };
  return unsupported(head);
}

function unsupported(head: Uint8Array): Sniffed {
  return {
    kind: "unsupported",
    reason:
      head.length === 0
        ? "an empty body"
        : `neither MP3 nor WAV; it starts with ${describeStart(head)}`,
  };
}

/** The first bytes as quoted text when they read as text, else as hex. */
export function describeStart(head: Uint8Array): string {
  const start = head.subarray(0, 24);
  const printable = start.every(
    (b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d,
  );
  if (printable) {
    const text = String.fromCharCode(...start).replace(/\s+/g, " ");
    return `${JSON.stringify(text)}${head.length > start.length ? "…" : ""}`;
  }
  const hex = [...start.subarray(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return `bytes ${hex}${head.length > 12 ? " …" : ""}`;
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}
