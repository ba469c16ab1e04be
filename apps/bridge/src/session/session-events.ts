/** Something the session tells the cloud on an AudioSession call (not on StreamAudio). */
export type SessionEvent =
  /** Every sample written before the mark has played out. */
  | {
      readonly type: "mark_played";
      readonly trackId: number;
      readonly name: string;
      readonly positionMs: number;
    }
  /** A clear took effect. */
  | {
      readonly type: "cleared";
      readonly trackId: number;
      readonly playedMs: number;
      readonly droppedMs: number;
      readonly marksDropped: readonly string[];
    }
  /** Flow feedback for one track. */
  | {
      readonly type: "track_stats";
      readonly trackId: number;
      readonly queuedMs: number;
      readonly playedMs: number;
      readonly clearedMs: number;
      readonly pendingMarks: number;
    }
  /** The bridge is shutting down: the cloud should move the session elsewhere. */
  | { readonly type: "draining"; readonly deadlineMs: number; readonly reason: string }
  /** A change among the room's other participants. */
  | {
      readonly type: "participant";
      readonly kind: ParticipantChange;
      readonly identity: string;
      readonly trackSid: string;
    };

/** What happened to a remote participant. */
export type ParticipantChange = "joined" | "left" | "muted" | "unmuted";
