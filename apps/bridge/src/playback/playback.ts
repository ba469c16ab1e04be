import type { Logger } from "../logger.js";
import type { PlaybackBufferBudget } from "./buffer-budget.js";
import type { AudioDecoder, AudioFormat, DecodedPcm } from "./decoded-audio.js";
import { PlaybackError } from "./errors.js";
import { type AudioDownload, type FetchLimits, startDownload } from "./fetch-audio.js";
import { gainOfVolume, toInt16WithGain } from "./gain.js";
import { type OpenedDecoder, openDecoder } from "./open-decoder.js";
import { createPlaybackEvents, type PlaybackEvent } from "./playback-events.js";
import { type AddressPolicy, shownUrl } from "./url-policy.js";

/** Longest piece of PCM handed to the track at once, so a stop never waits on a big write. */
const WRITE_MS = 100;

/** The bridge-wide settings every playback follows. */
export interface PlaybackSettings {
  readonly limits: FetchLimits;
  readonly policy: AddressPolicy;
  /** Spacing of PROGRESS events. */
  readonly progressIntervalMs: number;
  /** Downloaded audio held ahead of play-out, per playback and for the process. */
  readonly buffer?: PlaybackBufferBudget;
}

/** The slice of an outbound track a playback uses (see livekit/outbound-track.ts). */
export interface PlaybackTrack {
  write(samples: Int16Array, sampleRate: number, channels: number): Promise<void>;
  writtenMs(): number;
  playedOutMs(): number;
  clear(): number;
  drained(): Promise<void>;
}

/** One validated PlayAudio request. */
export interface PlaybackRequest {
  readonly requestId: string;
  readonly url: URL;
  /** PlayAudio `volume`: 0 is unity. */
  readonly volume: number;
  readonly trackId: number;
}

/** Options of {@link startPlayback}. */
export interface PlaybackOptions {
  readonly request: PlaybackRequest;
  readonly settings: PlaybackSettings;
  /** The track to play on, published on demand for the audio's format. */
  readonly track: (format: AudioFormat) => Promise<PlaybackTrack>;
  readonly logger: Logger;
  /** Called once, after the final event and once every resource is released. */
  readonly onFinished: (playback: Playback) => void;
}

/** One PlayAudio in flight: download, decode, real-time play-out, events. */
export interface Playback {
  readonly requestId: string;
  readonly trackId: number;
  /** The events, STARTED first and exactly one final event last; one reader. */
  readonly events: AsyncIterable<PlaybackEvent>;
  /**
   * Ends the playback now with STOPPED: the download is dropped and the track's
   * unplayed audio cleared, so the room is silent within a frame. No-op once final.
   */
  stop(reason: string, detail?: string): void;
  /** Resolves once the playback has ended and released everything. */
  readonly finished: Promise<void>;
}

/** Starts a playback; it runs until its final event whatever the reader does. */
export function startPlayback(options: PlaybackOptions): Playback {
  const { request, settings, logger } = options;
  const events = createPlaybackEvents();
  const controller = new AbortController();
  const gain = gainOfVolume(request.volume);
  let track: PlaybackTrack | undefined;
  let download: AudioDownload | undefined;
  let decoder: AudioDecoder | undefined;
  let format: AudioFormat | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  // The track's timeline position where this playback's first sample plays.
  let startOnTrackMs: number | undefined;
  let writtenMs = 0;
  let final = false;

  const durationMs = () => format?.durationMs ?? 0;
  const positionMs = () => {
    if (track === undefined || startOnTrackMs === undefined) return 0;
    const played = track.playedOutMs() - startOnTrackMs;
    return Math.round(Math.max(0, Math.min(writtenMs, played)));
  };
  const end = (event: PlaybackEvent) => {
    if (final) return false;
    final = true;
    clearInterval(progressTimer);
    events.push(event);
    events.close();
    return true;
  };

  const write = async (pcm: DecodedPcm) => {
    const active = track;
    if (active === undefined) return;
    const step = Math.max(1, Math.round((pcm.sampleRate * WRITE_MS) / 1000)) * pcm.channels;
    for (let offset = 0; offset < pcm.samples.length; offset += step) {
      if (final) return;
      const piece = pcm.samples.subarray(offset, offset + step);
      startOnTrackMs ??= active.writtenMs();
      writtenMs += (piece.length / pcm.channels / pcm.sampleRate) * 1000;
      await active.write(toInt16WithGain(piece, gain), pcm.sampleRate, pcm.channels);
    }
  };

  const run = async () => {
    download = await startDownload(request.url, {
      limits: settings.limits,
      policy: settings.policy,
      signal: controller.signal,
      ...(settings.buffer === undefined ? {} : { buffer: settings.buffer }),
    });
    const opened = await openDecoder(download);
    decoder = opened.decoder;
    format = decoder.format;
    if (final) return;
    track = await options.track(format);
    if (final) return;
    events.push(startedEvent(format, download));
    progressTimer = setInterval(() => {
      if (!final)
        events.push({ type: "progress", positionMs: positionMs(), durationMs: durationMs() });
    }, settings.progressIntervalMs);
    try {
      const whole = await decodeBody(opened, download, write, () => final);
      if (!whole) return;
    } catch (error) {
      // What was decoded before the failure still plays, then FAILED says why it stopped.
      if (!final) await track.drained();
      throw error;
    }
    if (final) return;
    await track.drained();
    end({ type: "completed", positionMs: Math.round(writtenMs), durationMs: durationMs() });
  };

  const stop = (reason: string, detail = "") => {
    if (final) return;
    const position = positionMs();
    track?.clear();
    controller.abort();
    end({ type: "stopped", positionMs: position, durationMs: durationMs(), reason, detail });
  };
  let finished: Promise<void> = Promise.resolve();
  const playback: Playback = {
    requestId: request.requestId,
    trackId: request.trackId,
    events,
    stop,
    get finished() {
      return finished;
    },
  };

  finished = run()
    .catch((error: unknown) => {
      if (final) return;
      if (!(error instanceof PlaybackError)) {
        logger.warn("playback failed unexpectedly", {
          requestId: request.requestId,
          error: String(error),
        });
      }
      const failure = asPlaybackError(error);
      end({
        type: "failed",
        code: failure.code,
        error: failure.message,
        positionMs: positionMs(),
        durationMs: durationMs(),
      });
    })
    .finally(() => {
      clearInterval(progressTimer);
      controller.abort();
      download?.destroy();
      decoder?.free();
      logger.info("playback ended", {
        requestId: request.requestId,
        trackId: request.trackId,
        url: shownUrl(request.url),
        event: events.finalType() ?? "",
      });
      options.onFinished(playback);
    });
  return playback;
}

/** STARTED: the duration and what the audio is, as the decoder and the download say. */
function startedEvent(format: AudioFormat, download: AudioDownload): PlaybackEvent {
  return {
    type: "started",
    durationMs: format.durationMs,
    metadata: {
      codec: format.codec,
      format: format.description,
      sample_rate: String(format.sampleRate),
      channels: String(format.channels),
      duration_source: format.durationSource,
      url: download.url,
      content_type: download.contentType,
    },
  };
}

/**
 * Decodes the body, the head the decoder was opened with first, and writes its PCM in
 * order; false when the playback became final (`isFinal`) before the body ended.
 */
async function decodeBody(
  opened: OpenedDecoder,
  download: AudioDownload,
  write: (pcm: DecodedPcm) => Promise<void>,
  isFinal: () => boolean,
): Promise<boolean> {
  const { decoder } = opened;
  for (const pcm of decoder.push(opened.head)) await write(pcm);
  if (!opened.ended) {
    for (;;) {
      if (isFinal()) return false;
      const chunk = await download.read();
      if (chunk === undefined) break;
      for (const pcm of decoder.push(chunk)) await write(pcm);
    }
  }
  for (const pcm of decoder.end()) await write(pcm);
  return true;
}

/** A failure as the PlaybackError FAILED reports: anything unexpected counts as `network`. */
function asPlaybackError(error: unknown): PlaybackError {
  if (error instanceof PlaybackError) return error;
  return new PlaybackError(
    "network",
    `playback failed: ${error instanceof Error ? error.message : String(error)}`,
  );
}
