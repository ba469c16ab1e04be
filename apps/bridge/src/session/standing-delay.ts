/**
 * Bounds the standing delay of room audio on its way to the cloud, in the spirit of CoDel:
 * a chunk that waited longer than the bound is not the problem (a GC pause, a burst of
 * joins, a backlog after a stall all drain within moments); a wait that stays above the
 * bound for a whole window is. Then the chunks that waited too long are dropped, and
 * counted, until one comes through within the bound: the cloud hears live audio again
 * instead of a delay that never drains.
 */
export interface StandingDelayGate {
  /** Whether a chunk that waited `waitedMs`, taken from the queue at `nowMs`, goes out. */
  admit(waitedMs: number, nowMs: number): boolean;
}

/** Options of {@link createStandingDelayGate}. */
export interface StandingDelayOptions {
  /** The longest standing delay (ms); 0 turns the bound off. */
  readonly boundMs: number;
  /** How long every chunk's wait must stay above the bound before any is dropped (ms). */
  readonly windowMs: number;
}

/** One second above the bound makes a delay standing. */
export const STANDING_DELAY_WINDOW_MS = 1_000;

/** Creates a {@link StandingDelayGate}; one per attached stream. */
export function createStandingDelayGate(options: StandingDelayOptions): StandingDelayGate {
  let aboveSince: number | undefined;
  let dropping = false;
  return {
    admit(waitedMs, nowMs) {
      if (options.boundMs <= 0 || waitedMs <= options.boundMs) {
        aboveSince = undefined;
        dropping = false;
        return true;
      }
      if (dropping) return false;
      aboveSince ??= nowMs;
      if (nowMs - aboveSince < options.windowMs) return true;
      dropping = true;
      return false;
    },
  };
}
