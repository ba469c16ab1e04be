import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { type PlaybackBufferBudget, UNBOUNDED_BUFFER } from "./buffer-budget.js";
import { PlaybackError } from "./errors.js";
import { type AddressPolicy, type ResolvedAddress, shownLocation, shownUrl } from "./url-policy.js";

/** Bounds of one download; every one of them ends the playback with FAILED when crossed. */
export interface FetchLimits {
  /** From sending a request (each redirect hop) to its response headers. */
  readonly connectTimeoutMs: number;
  /** Longest pause between two pieces of the body. */
  readonly idleTimeoutMs: number;
  /**
   * The whole download, redirects included; time spent paused because the playback's
   * buffer is full (see {@link PlaybackBufferBudget}) does not count.
   */
  readonly totalTimeoutMs: number;
  /** Largest body accepted. */
  readonly maxBytes: number;
  /** Redirects followed before giving up. */
  readonly maxRedirects: number;
}

/** Options of {@link startDownload}. */
export interface DownloadOptions {
  readonly limits: FetchLimits;
  /** Checked for the first URL and every redirect target, after DNS resolution. */
  readonly policy: AddressPolicy;
  /** Aborting it destroys the download at once. */
  readonly signal: AbortSignal;
  /** How much of the body may be held unread; default unbounded. */
  readonly buffer?: PlaybackBufferBudget;
}

/**
 * A body arriving from the network, held in memory up to the buffer budget: beyond it the
 * response is paused until read() takes chunks out.
 */
export interface AudioDownload {
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly contentType: string;
  /** From Content-Length; undefined when the server did not say. */
  readonly contentLength: number | undefined;
  /** The next piece of the body; undefined at its end; rejects with a {@link PlaybackError}. */
  read(): Promise<Uint8Array | undefined>;
  /** Bytes received so far. */
  receivedBytes(): number;
  /** Bytes received and not read yet. */
  heldBytes(): number;
  /** Stops the download now and releases its socket. Idempotent. */
  destroy(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches `url` with manual redirects (each hop's address is checked by the policy) and
 * resolves once a 2xx response's headers arrive; the body then keeps streaming in, up
 * to `maxBytes`, under the idle and total timeouts. Rejects with a {@link PlaybackError}.
 */
export async function startDownload(url: URL, options: DownloadOptions): Promise<AudioDownload> {
  const { limits, policy, signal } = options;
  const started = Date.now();
  let current = url;
  for (let hop = 0; ; hop++) {
    const remaining = limits.totalTimeoutMs - (Date.now() - started);
    if (remaining <= 0) throw timedOut(`the download of ${shownUrl(url)}`, limits.totalTimeoutMs);
    const address = await withTimeout(policy.resolve(current.hostname), remaining, signal, () =>
      timedOut(`resolving ${current.hostname}`, limits.totalTimeoutMs),
    );
    const response = await sendRequest(current, address, limits, remaining, signal);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (REDIRECTS.has(status) && location !== undefined) {
      response.destroy();
      if (hop >= limits.maxRedirects) {
        throw new PlaybackError(
          "too_many_redirects",
          `more than ${limits.maxRedirects} redirects (PLAYBACK_MAX_REDIRECTS) starting at ${shownUrl(url)}; the last went to ${shownLocation(location)}`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new PlaybackError(
          "network",
          `${shownUrl(current)} redirected to an invalid URL: ${shownLocation(location)}`,
        );
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new PlaybackError(
          "refused",
          `refused to follow a redirect from ${shownUrl(current)} to ${next.protocol}// (only http and https)`,
        );
      }
      current = next;
      continue;
    }
    if (status < 200 || status > 299) {
      response.destroy();
      const text = response.statusMessage ? ` ${response.statusMessage}` : "";
      throw new PlaybackError("http_status", `HTTP ${status}${text} from ${shownUrl(current)}`);
    }
    const length = Number(response.headers["content-length"]);
    const contentLength = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    if (contentLength !== undefined && contentLength > limits.maxBytes) {
      response.destroy();
      throw tooLarge(`the body is ${contentLength} bytes`, limits.maxBytes);
    }
    return readBody(response, {
      url: shownUrl(current),
      contentType: response.headers["content-type"] ?? "",
      contentLength,
      limits,
      totalRemainingMs: limits.totalTimeoutMs - (Date.now() - started),
      signal,
      buffer: options.buffer ?? UNBOUNDED_BUFFER,
    });
  }
}

function sendRequest(
  url: URL,
  address: ResolvedAddress,
  limits: FetchLimits,
  remainingMs: number,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  // The connection goes to the address the policy checked, whatever DNS says by now.
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all === true) {
      (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
    } else callback(null, address.address, address.family);
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    let request: ClientRequest | undefined;
    const timeoutMs = Math.min(limits.connectTimeoutMs, remainingMs);
    const timer = setTimeout(() => {
      const what =
        timeoutMs < limits.connectTimeoutMs ? "the download" : `connecting to ${url.host}`;
      fail(timedOut(what, timeoutMs < limits.connectTimeoutMs ? limits.totalTimeoutMs : timeoutMs));
    }, timeoutMs);
    const onAbort = () => fail(new PlaybackError("network", "the playback was stopped"));
    const fail = (error: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      request?.destroy();
      reject(error);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    request = send(url, {
      lookup,
      headers: { "user-agent": "mentra-livekit-bridge", accept: "audio/*, */*;q=0.5" },
    });
    request.on("response", (response) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(response);
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      fail(
        new PlaybackError(
          "network",
          `could not fetch ${shownUrl(url)}: ${error.code ?? error.message}`,
        ),
      );
    });
    request.end();
  });
}

interface BodyOptions {
  readonly url: string;
  readonly contentType: string;
  readonly contentLength: number | undefined;
  readonly limits: FetchLimits;
  readonly totalRemainingMs: number;
  readonly signal: AbortSignal;
  readonly buffer: PlaybackBufferBudget;
}

function readBody(response: IncomingMessage, options: BodyOptions): AudioDownload {
  const { limits, signal, buffer } = options;
  const chunks: Uint8Array[] = [];
  let received = 0;
  // Bytes in `chunks`, counted in the buffer budget.
  let held = 0;
  let paused = false;
  let ended = false;
  let failure: PlaybackError | undefined;
  let wake: (() => void) | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let totalTimer: NodeJS.Timeout | undefined;
  // The total timeout runs only while the bridge waits on the server.
  let totalLeftMs = Math.max(0, options.totalRemainingMs);
  let totalArmedAt = 0;

  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const done = () => ended || failure !== undefined;
  const finish = (error?: PlaybackError) => {
    if (done()) return;
    if (error === undefined) ended = true;
    else failure = error;
    stopTimers();
    stopWatching();
    signal.removeEventListener("abort", destroy);
    response.removeAllListeners("data");
    if (error !== undefined || !response.complete) response.destroy();
    notify();
  };
  const drop = () => {
    chunks.length = 0;
    buffer.release(held);
    held = 0;
  };
  const destroy = () => {
    finish(new PlaybackError("network", "the download was stopped"));
    drop();
  };
  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () => finish(timedOut(`waiting for more of ${options.url}`, limits.idleTimeoutMs)),
      limits.idleTimeoutMs,
    );
  };
  const armTotal = () => {
    totalArmedAt = Date.now();
    totalTimer = setTimeout(
      () => finish(timedOut(`the download of ${options.url}`, limits.totalTimeoutMs)),
      totalLeftMs,
    );
  };
  const stopTimers = () => {
    clearTimeout(idleTimer);
    if (totalTimer !== undefined) {
      clearTimeout(totalTimer);
      totalTimer = undefined;
      totalLeftMs = Math.max(0, totalLeftMs - (Date.now() - totalArmedAt));
    }
  };
  // Resumes a paused response once this playback's share has room again.
  const maybeResume = () => {
    if (!paused || done() || buffer.mustWait(held)) return;
    paused = false;
    armIdle();
    armTotal();
    response.resume();
  };
  const stopWatching = buffer.onRelease(maybeResume);
  signal.addEventListener("abort", destroy, { once: true });
  armIdle();
  armTotal();

  response.on("data", (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received > limits.maxBytes) {
      finish(tooLarge(`the body grew past ${limits.maxBytes} bytes`, limits.maxBytes));
      return;
    }
    chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    held += chunk.byteLength;
    buffer.add(chunk.byteLength);
    if (buffer.mustWait(held)) {
      paused = true;
      stopTimers();
      response.pause();
    } else armIdle();
    notify();
  });
  response.on("end", () => {
    if (options.contentLength !== undefined && received < options.contentLength) {
      finish(shortBody(options, received));
    } else finish();
  });
  response.on("error", () => finish(shortBody(options, received)));
  response.on("close", () => {
    if (!response.complete) finish(shortBody(options, received));
  });

  return {
    url: options.url,
    contentType: options.contentType,
    contentLength: options.contentLength,
    async read() {
      for (;;) {
        const next = chunks.shift();
        if (next !== undefined) {
          held -= next.length;
          buffer.release(next.length);
          return next;
        }
        if (failure !== undefined) throw failure;
        if (ended) return undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    receivedBytes: () => received,
    heldBytes: () => held,
    destroy,
  };
}

function shortBody(options: BodyOptions, received: number): PlaybackError {
  const of = options.contentLength === undefined ? "" : ` of ${options.contentLength}`;
  return new PlaybackError(
    "network",
    `the connection to ${options.url} closed after ${received}${of} bytes`,
  );
}

function timedOut(what: string, ms: number): PlaybackError {
  return new PlaybackError("timeout", `timed out after ${ms} ms: ${what}`);
}

function tooLarge(what: string, maxBytes: number): PlaybackError {
  return new PlaybackError(
    "too_large",
    `the audio is too large: ${what}, over the limit of ${maxBytes} bytes (PLAYBACK_MAX_BYTES)`,
  );
}

async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const bounded = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    onAbort = () => reject(new PlaybackError("network", "the playback was stopped"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, bounded]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}
