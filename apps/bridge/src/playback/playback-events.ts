import { createPushedItems } from "@mentra/pcm";
import type { PlaybackErrorCode } from "./errors.js";

/** What a playback reports, in order: started, progress…, then one final event. */
export type PlaybackEvent =
  | {
      readonly type: "started";
      readonly durationMs: number;
      readonly metadata: Readonly<Record<string, string>>;
    }
  | { readonly type: "progress"; readonly positionMs: number; readonly durationMs: number }
  | { readonly type: "completed"; readonly positionMs: number; readonly durationMs: number }
  | {
      readonly type: "failed";
      readonly code: PlaybackErrorCode;
      readonly error: string;
      readonly positionMs: number;
      readonly durationMs: number;
    }
  | {
      readonly type: "stopped";
      /** Who stopped it: stop_audio, stop_other, replaced, cancelled, or the session's end. */
      readonly reason: string;
      readonly detail: string;
      readonly positionMs: number;
      readonly durationMs: number;
    };

/** The events of one playback, for one reader; a PROGRESS not read yet is replaced by a newer one. */
export interface PlaybackEvents extends AsyncIterable<PlaybackEvent> {
  push(event: PlaybackEvent): void;
  /** No more events; the reader gets the ones queued, then the end. */
  close(): void;
  /** The type of the final event, once pushed. */
  finalType(): PlaybackEvent["type"] | undefined;
}

/** Creates the queue. It holds at most one PROGRESS and a few other events, so it is bounded. */
export function createPlaybackEvents(): PlaybackEvents {
  const items = createPushedItems<PlaybackEvent>({
    replaces: (tail, next) => tail.type === "progress" && next.type === "progress",
  });
  let last: PlaybackEvent["type"] | undefined;
  return {
    push(event) {
      if (items.closed) return;
      items.push(event);
      last = event.type;
    },
    close: () => items.close(),
    finalType: () => (items.closed ? last : undefined),
    [Symbol.asyncIterator]: () => items[Symbol.asyncIterator](),
  };
}
