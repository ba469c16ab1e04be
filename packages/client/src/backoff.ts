/** Settings of the reconnect backoff: exponential with full jitter. */
export interface BackoffOptions {
  /** Upper bound of the first delay; each attempt doubles it. Default 300 ms. */
  readonly initialMs?: number;
  /** Largest delay. Default 1500 ms, so a restarted bridge is found within about 1.5 s. */
  readonly maxMs?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first): a uniformly random time
 * between 0 and min(maxMs, initialMs · 2^attempt) ("full jitter"), so many clients that
 * lost the same bridge do not come back in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 300;
  const max = options.maxMs ?? 1_500;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
