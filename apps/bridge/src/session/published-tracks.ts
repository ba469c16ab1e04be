import type { OutboundTrack, RoomLink, Underruns } from "../livekit/index.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import { trackName } from "./track-names.js";

/** How each published track buffers and plays (TRACK_* settings; see OutboundTrackOptions). */
export interface TrackSettings {
  readonly bufferMs: number;
  readonly sourceQueueMs: number;
  readonly jitterBufferMs: number;
  readonly maxLateMs: number;
}

/** Options of {@link createPublishedTracks}. */
export interface PublishedTracksOptions {
  readonly track: TrackSettings;
  readonly audioLatency: AudioLatencySink;
  /** The room link to publish on, once any rejoin has settled; throws when there is none. */
  connected(): Promise<RoomLink>;
}

/** A session's published tracks (cloud to room), by track id. */
export interface PublishedTracks {
  /** The published track for `trackId`, published now (at this format) on first use. */
  trackFor(trackId: number, sampleRate: number, channels: number): Promise<OutboundTrack>;
  /** The tracks whose publication has completed, for marks, clears and stats. */
  readonly ready: ReadonlyMap<number, OutboundTrack>;
  /** Underruns of the tracks, those gone with a room too. */
  underruns(): Underruns;
  /** The room's tracks are gone (room lost or left): forgets them, keeping their underruns. */
  reset(): void;
  /** Tracks published or being published. */
  count(): number;
}

/** Creates the registry of published tracks; nothing is published until first used. */
export function createPublishedTracks(options: PublishedTracksOptions): PublishedTracks {
  const tracks = new Map<number, Promise<OutboundTrack>>();
  const ready = new Map<number, OutboundTrack>();
  /** Underruns of the tracks gone with a room. */
  let pastUnderruns: Underruns = { count: 0, ms: 0, lateDroppedMs: 0 };

  return {
    async trackFor(trackId, sampleRate, channels) {
      const link = await options.connected();
      let track = tracks.get(trackId);
      if (track === undefined) {
        track = link.publishTrack({
          name: trackName(trackId),
          sampleRate,
          channels,
          sourceQueueMs: options.track.sourceQueueMs,
          jitterBufferMs: options.track.jitterBufferMs,
          maxLateMs: options.track.maxLateMs,
          maxBufferMs: options.track.bufferMs,
          onFrameLatency: (ms) => options.audioLatency.observe("to_room", ms),
        });
        tracks.set(trackId, track);
        const pending = track;
        pending.then(
          (published) => {
            if (tracks.get(trackId) === pending) ready.set(trackId, published);
          },
          () => tracks.delete(trackId),
        );
      }
      return track;
    },
    ready,
    underruns() {
      return [...ready.values()].reduce(
        (sum, track) => addUnderruns(sum, track.underruns()),
        pastUnderruns,
      );
    },
    reset() {
      for (const track of ready.values()) {
        pastUnderruns = addUnderruns(pastUnderruns, track.underruns());
      }
      tracks.clear();
      ready.clear();
    },
    count: () => tracks.size,
  };
}

function addUnderruns(a: Underruns, b: Underruns): Underruns {
  return {
    count: a.count + b.count,
    ms: a.ms + b.ms,
    lateDroppedMs: a.lateDroppedMs + b.lateDroppedMs,
  };
}
