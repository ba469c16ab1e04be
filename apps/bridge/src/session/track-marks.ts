/**
 * Where a track stands, in milliseconds of its own timeline since it was published:
 * `written` is everything handed to it (played, queued or buffered), `played` what has
 * played out into the room.
 */
export interface TrackPosition {
  readonly writtenMs: number;
  readonly playedMs: number;
}

/** A mark waiting for the audio before it to play out. */
export interface PendingMark {
  readonly name: string;
  /** The track position the mark sits at. */
  readonly atMs: number;
}

/** What a clear did to the marks and the utterance. */
export interface ClearOutcome {
  /** How much of the cleared utterance had played out. */
  readonly playedMs: number;
  /** Marks behind the dropped audio, in order; they are never reported as played. */
  readonly marksDropped: readonly string[];
}

/**
 * The marks and the current utterance of one outbound track. An utterance is the audio
 * written since the track was last idle (everything played) or cleared; a clear reports
 * how much of it was heard.
 */
export class TrackMarks {
  private readonly pending: PendingMark[] = [];
  private utteranceStartMs = 0;
  /** Audio dropped by clears, in total. */
  clearedMs = 0;

  /** Call before writing audio: on an idle track, the new audio starts an utterance. */
  beforeWrite(position: TrackPosition): void {
    if (position.playedMs >= position.writtenMs - 0.5) this.utteranceStartMs = position.writtenMs;
  }

  /** Places a mark after everything written so far. */
  add(name: string, position: TrackPosition): void {
    this.pending.push({ name, atMs: position.writtenMs });
  }

  /** Removes and returns, in order, the marks whose audio has played out. */
  due(playedMs: number): PendingMark[] {
    let count = 0;
    while (count < this.pending.length && (this.pending[count]?.atMs ?? 0) <= playedMs + 0.5) {
      count++;
    }
    return this.pending.splice(0, count);
  }

  /**
   * Records a clear that dropped `droppedMs` when `playedMs` had played: the marks still
   * waiting are dropped, and the next audio, written at `nextAtMs` (after any silence the
   * clear wrote), starts a new utterance.
   */
  clear(playedMs: number, droppedMs: number, nextAtMs = playedMs): ClearOutcome {
    const marksDropped = this.pending.splice(0).map((mark) => mark.name);
    const heard = Math.max(0, playedMs - this.utteranceStartMs);
    this.utteranceStartMs = nextAtMs;
    this.clearedMs += droppedMs;
    return { playedMs: heard, marksDropped };
  }

  /** Marks waiting. */
  get size(): number {
    return this.pending.length;
  }
}
