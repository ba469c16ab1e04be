import type { OutboundTrack } from "../livekit/index.js";
import type { SessionEvent } from "./session-events.js";
import type { TrackMarks } from "./track-marks.js";

/** How often marks are checked against the played-out position while an AudioSession is attached. */
const CONTROL_TICK_MS = 10;

/** Options of {@link createTrackReports}. */
export interface TrackReportsOptions {
  /** The published tracks, by track id. */
  readonly tracks: ReadonlyMap<number, OutboundTrack>;
  /** The marks of each track, by track id. */
  readonly marks: ReadonlyMap<number, TrackMarks>;
  /** Tells the attached AudioSession, if any. */
  emit(event: SessionEvent): void;
  /** The attached AudioSession's TrackStats interval; undefined: no AudioSession attached. */
  statsIntervalMs(): number | undefined;
}

/** What the attached AudioSession hears of the tracks: played marks and TrackStats. */
export interface TrackReports {
  /** Reports the marks whose audio has played out, in order per track. */
  checkMarks(): void;
  /** While an AudioSession is attached: marks every tick, TrackStats at their interval. */
  start(): void;
  /** Stops the timer {@link start} started. Idempotent. */
  stop(): void;
  /** Whether the timer runs. */
  running(): boolean;
}

/** Creates the reports; nothing runs until {@link TrackReports.start}. */
export function createTrackReports(options: TrackReportsOptions): TrackReports {
  const { tracks, marks } = options;
  let controlTimer: NodeJS.Timeout | undefined;
  let statsDueAt = 0;

  function checkMarks(): void {
    for (const [trackId, trackMarks] of marks) {
      if (trackMarks.size === 0) continue;
      const playedMs = tracks.get(trackId)?.playedOutMs() ?? 0;
      for (const mark of trackMarks.due(playedMs)) {
        options.emit({
          type: "mark_played",
          trackId,
          name: mark.name,
          positionMs: Math.round(mark.atMs),
        });
      }
    }
  }

  function sendStats(): void {
    for (const [trackId, track] of tracks) {
      const trackMarks = marks.get(trackId);
      options.emit({
        type: "track_stats",
        trackId,
        queuedMs: Math.round(track.queuedMs() + track.bufferedMs()),
        playedMs: Math.round(track.playedOutMs()),
        clearedMs: Math.round(trackMarks?.clearedMs ?? 0),
        pendingMarks: trackMarks?.size ?? 0,
      });
    }
  }

  function stop(): void {
    if (controlTimer !== undefined) clearInterval(controlTimer);
    controlTimer = undefined;
  }

  return {
    checkMarks,
    start() {
      stop();
      statsDueAt = 0;
      controlTimer = setInterval(() => {
        const every = options.statsIntervalMs();
        if (every === undefined) return;
        checkMarks();
        const now = performance.now();
        if (every <= 0 || now < statsDueAt) return;
        statsDueAt = now + every;
        sendStats();
      }, CONTROL_TICK_MS);
    },
    stop,
    running: () => controlTimer !== undefined,
  };
}
