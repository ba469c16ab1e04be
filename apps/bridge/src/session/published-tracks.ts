import type { OutboundTrack, RoomLink } from "../livekit/index.js";
import type { AudioLatencySink } from "../observability/audio-latency.js";
import { trackName } from "./track-names.js";

/** Options of {@link createPublishedTracks}. */
export interface PublishedTracksOptions {
  readonly track: {
    readonly bufferMs: number;
    readonly sourceQueueMs: number;
    readonly jitterBufferMs: number;
  };
  readonly audioLatency: AudioLatencySink;
  /** The room link to publish on, once any rejoin has settled; throws when there is none. */
  connected(): Promise<RoomLink>;
}

/** Cloud → room underruns: how many, and how long in all. */
export interface Underruns {
  readonly count: number;
  readonly ms: number;
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
  let pastUnderruns: Underruns = { count: 0, ms: 0 };

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
      let { count, ms } = pastUnderruns;
      for (const track of ready.values()) {
        const underruns = track.underruns();
        count += underruns.count;
        ms += underruns.ms;
      }
      return { count, ms };
    },
    reset() {
      for (const track of ready.values()) {
        const underruns = track.underruns();
        pastUnderruns = {
          count: pastUnderruns.count + underruns.count,
          ms: pastUnderruns.ms + underruns.ms,
        };
      }
      tracks.clear();
      ready.clear();
    },
    count: () => tracks.size,
  };
}
