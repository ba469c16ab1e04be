/** Cloud → room underruns: how many, how long in all, and the ms dropped to catch up. */
export interface Underruns {
  readonly count: number;
  readonly ms: number;
  readonly lateDroppedMs: number;
}

/**
 * The underruns of one outbound track, and how far its current utterance of cloud audio
 * fell behind its schedule through them: what decides which late frames are dropped.
 */
export interface LateLedger {
  /** The source ran dry for `dryMs` before a frame (cloud audio when `timed`). */
  underrun(dryMs: number, timed: boolean): void;
  /** A new utterance (or playback after a pause, or a clear): it starts on schedule. */
  onSchedule(): void;
  /**
   * Whether the next frame is dropped (and counted) to catch up: the utterance is more
   * than maxLateMs and a frame behind, and `heldAfterMs` (what the source and the bridge
   * hold after that frame) is at least `floorMs`, so the room hears no new gap without it.
   */
  dropToCatchUp(heldAfterMs: number, floorMs: number): boolean;
  /** Underruns so far, their total ms (rounded), and the ms dropped to catch up. */
  figures(): Underruns;
}

/** Creates the ledger of a track playing `frameMs` frames, allowing `maxLateMs` behind. */
export function createLateLedger(frameMs: number, maxLateMs: number): LateLedger {
  let count = 0;
  let ms = 0;
  // The ms the utterance fell behind (its underruns), less what was dropped to catch up.
  let behindMs = 0;
  let lateDroppedMs = 0;
  return {
    underrun(dryMs, timed) {
      count++;
      ms += dryMs;
      if (timed) behindMs += dryMs;
    },
    onSchedule() {
      behindMs = 0;
    },
    dropToCatchUp(heldAfterMs, floorMs) {
      if (behindMs - maxLateMs < frameMs || heldAfterMs < floorMs) return false;
      behindMs -= frameMs;
      lateDroppedMs += frameMs;
      return true;
    },
    figures: () => ({ count, ms: Math.round(ms), lateDroppedMs }),
  };
}
