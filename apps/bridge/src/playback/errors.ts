/**
 * Why a playback failed, as stable codes callers can switch on; each FAILED event carries
 * one as metadata `code` next to its readable `error`.
 *
 * - `http_status`: the server answered with a status other than 2xx or a redirect.
 * - `too_large`: the body is (or announced to be) over `PLAYBACK_MAX_BYTES`.
 * - `timeout`: connecting, a pause in the body or the whole download took too long.
 * - `too_many_redirects`: more than `PLAYBACK_MAX_REDIRECTS` hops (a loop ends here too).
 * - `refused`: the URL or an address it resolves to is not allowed (scheme, private range).
 * - `network`: the connection failed or broke (DNS, reset, closed before the announced length).
 * - `empty`: the body had no bytes.
 * - `unsupported_format`: neither MP3 nor a WAV the bridge can play.
 * - `decode_error`: the audio is damaged or cut off.
 */
export type PlaybackErrorCode =
  | "http_status"
  | "too_large"
  | "timeout"
  | "too_many_redirects"
  | "refused"
  | "network"
  | "empty"
  | "unsupported_format"
  | "decode_error";

/** A fetch or decode failure that ends a playback with FAILED; `message` is for people. */
export class PlaybackError extends Error {
  override readonly name = "PlaybackError";

  constructor(
    readonly code: PlaybackErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A decode_error: the audio is damaged or cut off, `what` says where. */
export function decodeError(what: string): PlaybackError {
  return new PlaybackError("decode_error", `decode error: ${what}`);
}
