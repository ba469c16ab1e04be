/** Options of {@link createFramer}. */
export interface FramerOptions {
  /** Samples per channel in each frame, e.g. 160 for 10 ms at 16 kHz. */
  readonly samplesPerFrame: number;
  /** Interleaved channels per sample. */
  readonly channels: number;
}

/** Options of {@link Framer.flush}. */
export interface FramerFlushOptions {
  /** Zero-pad the partial frame to full length (true) or return it short (false, the default). */
  readonly pad?: boolean;
}

/** Cuts a stream of interleaved samples of any chunk size into fixed-size frames. */
export interface Framer {
  /**
   * Appends interleaved samples of any length and returns the frames completed by them, in
   * order. Each frame is a fresh array of `samplesPerFrame * channels` values the caller owns.
   */
  push(samples: Int16Array): Int16Array<ArrayBuffer>[];
  /**
   * Returns the partial frame held back, zero-padded with `{ pad: true }` (a short array
   * otherwise), and empties the framer; undefined when nothing is held.
   */
  flush(options?: FramerFlushOptions): Int16Array<ArrayBuffer> | undefined;
  /** Interleaved values held back for the next frame (always below one frame's length). */
  readonly pendingSamples: number;
}

/**
 * Creates a framer. Each input value is copied exactly once, into the frame being filled,
 * so the cost is linear in the audio whatever the chunk sizes.
 */
export function createFramer(options: FramerOptions): Framer {
  const { samplesPerFrame, channels } = options;
  if (!Number.isInteger(samplesPerFrame) || samplesPerFrame < 1) {
    throw new RangeError(`samplesPerFrame must be a positive integer, got ${samplesPerFrame}`);
  }
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RangeError(`channels must be a positive integer, got ${channels}`);
  }
  const frameLength = samplesPerFrame * channels;
  let frame = new Int16Array(frameLength);
  let filled = 0;

  return {
    push(samples) {
      const frames: Int16Array<ArrayBuffer>[] = [];
      let read = 0;
      while (read < samples.length) {
        const take = Math.min(frameLength - filled, samples.length - read);
        frame.set(samples.subarray(read, read + take), filled);
        filled += take;
        read += take;
        if (filled === frameLength) {
          frames.push(frame);
          frame = new Int16Array(frameLength);
          filled = 0;
        }
      }
      return frames;
    },
    flush(flushOptions = {}) {
      if (filled === 0) return undefined;
      // A fresh frame starts zeroed, so the padding is already in place.
      const last = flushOptions.pad === true ? frame : frame.slice(0, filled);
      frame = new Int16Array(frameLength);
      filled = 0;
      return last;
    },
    get pendingSamples() {
      return filled;
    },
  };
}
