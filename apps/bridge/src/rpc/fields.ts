import { invalid } from "./errors.js";

/** Longest identifier (user id, room, identity, request id) accepted, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256;
/** Longest token accepted (LiveKit JWTs are well under 2 kB). */
export const MAX_TOKEN_BYTES = 16 * 1024;
/** Longest free-text reason accepted. */
export const MAX_REASON_BYTES = 1024;
/** Longest URL accepted. */
export const MAX_URL_BYTES = 8 * 1024;

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `value` cannot be an identifier, or undefined. Identifiers end up in LiveKit
 * identities, room names, log lines and metric labels, so they must be short, well-formed
 * text: no control characters, no lone surrogates (from JSON) and no U+FFFD (what
 * protobuf's decoder makes of bytes that were not UTF-8).
 */
function identifierProblem(value: string, maxBytes: number): string | undefined {
  const bytes = encoder.encode(value).byteLength;
  if (bytes > maxBytes) return `is ${bytes} bytes long; at most ${maxBytes} are accepted`;
  if (LONE_SURROGATE.test(value)) return "is not well-formed Unicode (a lone surrogate)";
  if (value.includes("\uFFFD")) return "contains U+FFFD: the bytes sent were not valid UTF-8";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  const control = /[\u0000-\u001F\u007F-\u009F]/.exec(value);
  if (control !== null) {
    const code = control[0].codePointAt(0)?.toString(16).padStart(4, "0").toUpperCase();
    return `contains the control character U+${code}`;
  }
  return undefined;
}

/** A required identifier such as user_id; InvalidArgument naming the field otherwise. */
export function requireId(field: string, value: string): string {
  if (value === "") throw invalid(`${field} is required`);
  return optionalId(field, value);
}

/** An identifier that may be empty. */
export function optionalId(field: string, value: string, maxBytes = MAX_ID_BYTES): string {
  const problem = identifierProblem(value, maxBytes);
  if (problem !== undefined) throw invalid(`${field} ${problem}`);
  return value;
}

/** Free text such as a reason or a token: bounded, well-formed. */
export function boundedText(field: string, value: string, maxBytes: number): string {
  const bytes = encoder.encode(value).byteLength;
  if (bytes > maxBytes) {
    throw invalid(`${field} is ${bytes} bytes long; at most ${maxBytes} are accepted`);
  }
  return value;
}

/** An optional LiveKit URL: empty, or ws(s)/http(s) with a host. */
export function optionalLiveKitUrl(field: string, value: string): string {
  if (value === "") return value;
  boundedText(field, value, MAX_URL_BYTES);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${field} is not a URL: ${JSON.stringify(value.slice(0, 100))}`);
  }
  if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol) || url.hostname === "") {
    throw invalid(`${field} must be a ws://, wss://, http:// or https:// URL, got ${url.protocol}`);
  }
  return value;
}

/** A receive sample rate: 0 (the default) or 8000..48000 Hz. */
export function optionalSampleRate(field: string, value: number): number {
  if (value !== 0 && (value < 8_000 || value > 48_000)) {
    throw invalid(`${field} must be 0 or 8000..48000, got ${value}`);
  }
  return value;
}

/** A receive frame length: 0 (the default) or 10..100 ms. */
export function optionalFrameMs(field: string, value: number): number {
  if (value !== 0 && (value < 10 || value > 100)) {
    throw invalid(`${field} must be 0 or 10..100, got ${value}`);
  }
  return value;
}
