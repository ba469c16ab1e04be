import type { Logger } from "../logger.js";
import {
  type Playback,
  type PlaybackRequest,
  type PlaybackSettings,
  type PlaybackTrack,
  startPlayback,
} from "../playback/playback.js";

/** Options of {@link createPlaybacks}. */
export interface PlaybacksOptions {
  readonly settings: PlaybackSettings;
  readonly logger: Logger;
  /** The track a playback plays on, published on first use with `channels`. */
  track(trackId: number, channels: number): Promise<PlaybackTrack>;
}

/** A session's PlayAudio playbacks, by request id. */
export function createPlaybacks(options: PlaybacksOptions) {
  const playbacks = new Map<string, Playback>();
  return {
    /** Playbacks running now. */
    get size() {
      return playbacks.size;
    },
    /**
     * Starts a playback. `stopOther` stops every other playback first; otherwise only the
     * one on the same track (and one with the same request id) is replaced. Each stopped
     * playback ends with STOPPED.
     */
    play(request: PlaybackRequest, stopOther: boolean): Playback {
      for (const other of [...playbacks.values()]) {
        if (stopOther) other.stop("stop_other", `stop_other by ${request.requestId}`);
        else if (other.trackId === request.trackId || other.requestId === request.requestId) {
          other.stop("replaced", `replaced by ${request.requestId}`);
        }
      }
      const playback = startPlayback({
        request,
        settings: options.settings,
        logger: options.logger,
        track: (format) => options.track(request.trackId, Math.min(2, format.channels)),
        onFinished: (done) => {
          if (playbacks.get(done.requestId) === done) playbacks.delete(done.requestId);
        },
      });
      playbacks.set(request.requestId, playback);
      return playback;
    },
    /** Stops `requestId`, or every playback when it is empty; returns the ids stopped. */
    stop(requestId: string, reason: string, detail: string): string[] {
      const chosen =
        requestId === ""
          ? [...playbacks.values()]
          : [playbacks.get(requestId)].filter((p) => p !== undefined);
      for (const playback of chosen) playback.stop(reason, detail);
      return chosen.map((playback) => playback.requestId);
    },
    /** Stops the playbacks on `trackId`. */
    stopOnTrack(trackId: number, reason: string, detail: string): void {
      for (const playback of [...playbacks.values()]) {
        if (playback.trackId === trackId) playback.stop(reason, detail);
      }
    },
    /** Stops every playback (STOPPED with `reason`) and waits until they have let go. */
    async endAll(reason: string, detail: string): Promise<void> {
      const all = [...playbacks.values()];
      for (const playback of all) playback.stop(reason, detail);
      await Promise.all(all.map((playback) => playback.finished));
    },
  };
}
