import type { OutboundTrack, RoomLink } from "../livekit/index.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import type { SessionEvent } from "./session-events.js";
import { TrackMarks, type TrackPosition } from "./track-marks.js";
import { trackName } from "./track-names.js";

/** How often marks are checked against the played-out position while an AudioSession is attached. */
const CONTROL_TICK_MS = 10;

/** Options of {@link createTrackControl}. */
export interface TrackControlOptions {
  readonly track: { readonly bufferMs: number; readonly sourceQueueMs: number };
  readonly audioLatency: AudioLatencySink;
  /** The room link to publish on, once any rejoin has settled; throws when there is none. */
  connected(): Promise<RoomLink>;
  /** Tells the attached AudioSession, if any. */
  emit(event: SessionEvent): void;
  /** The attached AudioSession's TrackStats interval; undefined: no AudioSession attached. */
  statsIntervalMs(): number | undefined;
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
 * The session's published tracks (cloud to room), published on first use, and what the
 * AudioSession controls on them: marks, clears and TrackStats.
 */
export function createTrackControl(options: TrackControlOptions) {
  const tracks = new Map<number, Promise<OutboundTrack>>();
  /** Tracks once published, for marks, clears and stats. */
  const published = new Map<number, OutboundTrack>();
  const marks = new Map<number, TrackMarks>();
  let controlTimer: NodeJS.Timeout | undefined;
  let statsDueAt = 0;
  let chunksFromCloud = 0;
  /** Underruns of the tracks gone with a room. */
  let pastUnderruns = { count: 0, ms: 0 };

  function marksFor(trackId: number): TrackMarks {
    let found = marks.get(trackId);
    if (found === undefined) {
      found = new TrackMarks();
      marks.set(trackId, found);
    }
    return found;
  }

  /** The published track for `trackId`, published now (at this format) on first use. */
  async function trackFor(trackId: number, sampleRate: number, channels: number) {
    const link = await options.connected();
    let track = tracks.get(trackId);
    if (track === undefined) {
      track = link.publishTrack({
        name: trackName(trackId),
        sampleRate,
        channels,
        sourceQueueMs: options.track.sourceQueueMs,
        maxBufferMs: options.track.bufferMs,
        onFrameLatency: (ms) => options.audioLatency.observe("to_room", ms),
      });
      tracks.set(trackId, track);
      const pending = track;
      pending.then(
        (ready) => {
          if (tracks.get(trackId) === pending) published.set(trackId, ready);
        },
        () => tracks.delete(trackId),
      );
    }
    return track;
  }

  /** Reports the marks whose audio has played out, in order per track. */
  function checkMarks(): void {
    for (const [trackId, trackMarks] of marks) {
      if (trackMarks.size === 0) continue;
      const playedMs = published.get(trackId)?.playedOutMs() ?? 0;
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
    for (const [trackId, track] of published) {
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

  function stopControl(): void {
    if (controlTimer !== undefined) clearInterval(controlTimer);
    controlTimer = undefined;
  }

  return {
    trackFor,
    /** Cloud audio written to the room, in chunks. */
    get chunksFromCloud() {
      return chunksFromCloud;
    },
    /** Plays cloud audio on `trackId`; waits while the track's buffer is full. */
    async write(trackId: number, samples: Int16Array, sampleRate: number, channels: number) {
      if (samples.length === 0) return;
      const receivedAt = performance.now();
      const track = await trackFor(trackId, sampleRate, channels);
      chunksFromCloud++;
      marksFor(trackId).beforeWrite(position(track));
      await track.write(samples, sampleRate, channels, receivedAt);
    },
    /** Places a mark after everything written so far on `trackId`. */
    mark(trackId: number, name: string): void {
      const trackMarks = marksFor(trackId);
      const track = published.get(trackId);
      trackMarks.add(name, track === undefined ? { writtenMs: 0, playedMs: 0 } : position(track));
      checkMarks();
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
    startControl(): void {
      stopControl();
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
    stopControl,
    /** Cloud → room underruns of the session's tracks, those gone with a room too. */
    underrunMetadata(): Record<string, string> {
      let { count, ms } = pastUnderruns;
      for (const track of published.values()) {
        const underruns = track.underruns();
        count += underruns.count;
        ms += underruns.ms;
      }
      return { to_room_underruns: String(count), to_room_underrun_ms: String(ms) };
    },
    /** The room's tracks are gone (room lost or left): so are their marks, which can never play. */
    reset(): void {
      for (const track of published.values()) {
        const underruns = track.underruns();
        pastUnderruns = {
          count: pastUnderruns.count + underruns.count,
          ms: pastUnderruns.ms + underruns.ms,
        };
      }
      tracks.clear();
      published.clear();
      marks.clear();
    },
    /** Tracks and the control timer. */
    openHandles: () => tracks.size + (controlTimer === undefined ? 0 : 1),
  };
}

/** A session's {@link createTrackControl}. */
export type TrackControl = ReturnType<typeof createTrackControl>;
