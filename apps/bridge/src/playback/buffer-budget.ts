/** Compressed audio held ahead of play-out by every playback of the process, in bytes. */
let processHeld = 0;

/** Bytes of downloaded audio not yet decoded, all playbacks together (a gauge). */
export function playbackBufferedBytes(): number {
  return processHeld;
}

/**
 * How much downloaded audio playbacks may hold ahead of play-out: `windowBytes` each and
 * `totalBytes` together (PLAYBACK_WINDOW_BYTES, PLAYBACK_BUFFER_TOTAL_BYTES). A download
 * over its share stops reading its response (TCP backpressure) until play-out catches up.
 * A download holding nothing may always read one more chunk, so each bound is exceeded
 * by at most one network chunk per playback, and nobody waits forever.
 */
export interface PlaybackBufferBudget {
  readonly windowBytes: number;
  readonly totalBytes: number;
  /** Bytes held now by the playbacks of this budget. */
  held(): number;
  /** Whether a download holding `own` bytes must stop reading. */
  mustWait(own: number): boolean;
  add(bytes: number): void;
  release(bytes: number): void;
  /** Calls `listener` whenever bytes are released; returns the unsubscribe. */
  onRelease(listener: () => void): () => void;
}

export function createPlaybackBufferBudget(options: {
  readonly windowBytes: number;
  readonly totalBytes: number;
}): PlaybackBufferBudget {
  let held = 0;
  const listeners = new Set<() => void>();
  return {
    windowBytes: options.windowBytes,
    totalBytes: options.totalBytes,
    held: () => held,
    mustWait: (own) => own > 0 && (own >= options.windowBytes || held >= options.totalBytes),
    add(bytes) {
      held += bytes;
      processHeld += bytes;
    },
    release(bytes) {
      if (bytes <= 0) return;
      held -= bytes;
      processHeld -= bytes;
      for (const listener of [...listeners]) listener();
    },
    onRelease(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** No bounds: downloads read as fast as the server sends (unit tests of the fetch alone). */
export const UNBOUNDED_BUFFER: PlaybackBufferBudget = createPlaybackBufferBudget({
  windowBytes: Number.POSITIVE_INFINITY,
  totalBytes: Number.POSITIVE_INFINITY,
});
