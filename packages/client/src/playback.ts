import type { Client } from "@connectrpc/connect";
import type { LiveKitBridge, PlayAudioEvent } from "@mentra/bridge-proto";
import { createPushedItems } from "@mentra/pcm";
import { BridgeError, toBridgeError } from "./errors.js";

/** Options of {@link BridgeSession.play}. */
export interface PlayOptions {
  /** Default: a random id. */
  readonly requestId?: string;
  /** 0 speaker (default), 1 app audio, 2 TTS. */
  readonly trackId?: number;
  /** Gain; 0 or absent means unity. */
  readonly volume?: number;
  /** Stop every other playback of the user first. */
  readonly stopOther?: boolean;
  readonly signal?: AbortSignal;
}

/** One event of a playback, as the bridge reports it. */
export interface PlaybackEvent {
  readonly type: "started" | "progress" | "completed" | "failed" | "stopped";
  readonly requestId: string;
  readonly durationMs: number;
  readonly positionMs: number;
  readonly error: string;
}

/** How a playback ended. */
export interface PlaybackOutcome {
  readonly type: "completed" | "failed" | "stopped";
  readonly positionMs: number;
  readonly error: string;
}

/** A running playback. */
export interface Playback {
  readonly requestId: string;
  /** Every event, in order; one reader. */
  readonly events: AsyncIterable<PlaybackEvent>;
  /** Resolves with the final event; rejects with a BridgeError if the call failed. */
  readonly done: Promise<PlaybackOutcome>;
  /** Cancels the call, which stops the playback on the bridge. */
  cancel(): void;
}

const TYPES = ["started", "progress", "completed", "failed", "stopped"] as const;
const MAX_BUFFERED_EVENTS = 1_000;

function toEvent(event: PlayAudioEvent): PlaybackEvent {
  return {
    type: TYPES[event.type] ?? "failed",
    requestId: event.requestId,
    durationMs: Number(event.durationMs),
    positionMs: Number(event.positionMs),
    error: event.error,
  };
}

/** Starts PlayAudio and collects its events. */
export function startPlayback(
  rpc: Client<typeof LiveKitBridge>,
  userId: string,
  url: string,
  options: PlayOptions,
  sessionSignal: AbortSignal,
): Playback {
  const requestId =
    options.requestId ??
    `play-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const controller = new AbortController();
  const abort = () => controller.abort();
  sessionSignal.addEventListener("abort", abort, { once: true });
  options.signal?.addEventListener("abort", abort, { once: true });
  const events = createPushedItems<PlaybackEvent>({ limit: MAX_BUFFERED_EVENTS });

  const done = (async (): Promise<PlaybackOutcome> => {
    try {
      for await (const raw of rpc.playAudio(
        {
          userId,
          requestId,
          audioUrl: url,
          trackId: options.trackId ?? 0,
          volume: options.volume ?? 0,
          stopOther: options.stopOther ?? false,
        },
        { signal: controller.signal },
      )) {
        const event = toEvent(raw);
        events.push(event);
        if (event.type === "completed" || event.type === "failed" || event.type === "stopped") {
          return { type: event.type, positionMs: event.positionMs, error: event.error };
        }
      }
      throw new BridgeError("internal", "PlayAudio ended without a final event");
    } catch (error) {
      throw toBridgeError(error);
    } finally {
      events.close();
      sessionSignal.removeEventListener("abort", abort);
      options.signal?.removeEventListener("abort", abort);
    }
  })();
  done.catch(() => {});

  return {
    requestId,
    done,
    cancel: abort,
    events: { [Symbol.asyncIterator]: () => events[Symbol.asyncIterator]() },
  };
}
