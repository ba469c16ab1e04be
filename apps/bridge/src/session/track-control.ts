import type { OutboundTrack } from "../livekit/index.js";
import { createPublishedTracks, type PublishedTracksOptions } from "./published-tracks.js";
import type { SessionEvent } from "./session-events.js";
import { TrackMarks, type TrackPosition } from "./track-marks.js";
import { createTrackReports, type TrackReportsOptions } from "./track-reports.js";

/** Options of {@link createTrackControl}: those of the published tracks and of the reports. */
export interface TrackControlOptions
  extends PublishedTracksOptions,
    Pick<TrackReportsOptions, "emit" | "statsIntervalMs"> {
  /** A clear on `trackId`: its playbacks stop. */
  onClear(trackId: number): void;
}

/** A track's position: everything written to it, and what has played out. */
function position(track: OutboundTrack): TrackPosition {
  // Written is counted exactly; played out rests on the AudioSource's estimate.
  const writtenMs = track.writtenMs();
  return { writtenMs, playedMs: Math.min(writtenMs, track.playedOutMs()) };
}

/**
 * The session's published tracks (cloud to room), published on first use (see
 * published-tracks.ts), and what the AudioSession controls on them: marks, clears and
 * TrackStats (see track-reports.ts).
 */
export function createTrackControl(options: TrackControlOptions) {
  const tracks = createPublishedTracks(options);
  const published = tracks.ready;
  const marks = new Map<number, TrackMarks>();
  const reports = createTrackReports({
    tracks: published,
    marks,
    emit: (event) => options.emit(event),
    statsIntervalMs: () => options.statsIntervalMs(),
  });
  let chunksFromCloud = 0;

  function marksFor(trackId: number): TrackMarks {
    let found = marks.get(trackId);
    if (found === undefined) {
      found = new TrackMarks();
      marks.set(trackId, found);
    }
    return found;
  }

  return {
    trackFor: tracks.trackFor,
    /** Cloud audio written to the room, in chunks. */
    get chunksFromCloud() {
      return chunksFromCloud;
    },
    /** Plays cloud audio on `trackId`; waits while the track's buffer is full. */
    async write(trackId: number, samples: Int16Array, sampleRate: number, channels: number) {
      if (samples.length === 0) return;
      const receivedAt = performance.now();
      const track = await tracks.trackFor(trackId, sampleRate, channels);
      chunksFromCloud++;
      marksFor(trackId).beforeWrite(position(track));
      await track.write(samples, sampleRate, channels, receivedAt);
    },
    /** Places a mark after everything written so far on `trackId`. */
    mark(trackId: number, name: string): void {
      const trackMarks = marksFor(trackId);
      const track = published.get(trackId);
      trackMarks.add(name, track === undefined ? { writtenMs: 0, playedMs: 0 } : position(track));
      reports.checkMarks();
    },
    /** Drops what `trackId` has not played yet, and its marks; says what was heard. */
    clear(trackId: number): Extract<SessionEvent, { type: "cleared" }> {
      const trackMarks = marksFor(trackId);
      const track = published.get(trackId);
      const playedMs = track?.playedOutMs() ?? 0;
      const droppedMs = track?.clear() ?? 0;
      options.onClear(trackId);
      const outcome = trackMarks.clear(playedMs, droppedMs, track?.writtenMs() ?? playedMs);
      return {
        type: "cleared",
        trackId,
        playedMs: Math.round(outcome.playedMs),
        droppedMs: Math.round(droppedMs),
        marksDropped: outcome.marksDropped,
      };
    },
    /** While an AudioSession is attached: marks every tick, TrackStats at their interval. */
    startControl: reports.start,
    stopControl: reports.stop,
    /**
     * Cloud → room underruns of the session's tracks, those gone with a room too, and the
     * cloud audio dropped after them to catch up.
     */
    underrunMetadata(): Record<string, string> {
      const { count, ms, lateDroppedMs } = tracks.underruns();
      return {
        to_room_underruns: String(count),
        to_room_underrun_ms: String(ms),
        to_room_late_dropped_ms: String(lateDroppedMs),
      };
    },
    /** The room's tracks are gone (room lost or left): so are their marks, which can never play. */
    reset(): void {
      tracks.reset();
      marks.clear();
    },
    /** Tracks and the control timer. */
    openHandles: () => tracks.count() + (reports.running() ? 1 : 0),
  };
}

/** A session's {@link createTrackControl}. */
export type TrackControl = ReturnType<typeof createTrackControl>;
