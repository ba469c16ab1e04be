import { AudioStream, type RemoteTrack } from "@livekit/rtc-node";

/** Options of {@link readRemoteAudio}. */
export interface InboundAudioOptions {
  /** The subscribed remote audio track. */
  readonly track: RemoteTrack;
  /** Identity of the participant that publishes it. */
  readonly identity: string;
  /** Rate frames are converted to. */
  readonly sampleRate: number;
  /** Channels frames are converted to. */
  readonly channels: number;
  /** Duration of each frame. */
  readonly frameMs: number;
  /** Called with a copy of each frame's interleaved samples and the wall-clock time it came. */
  readonly onFrame: (samples: Int16Array, receivedAt: number) => void;
  /** Called once when the track ends by itself (not after close()). */
  readonly onEnd: () => void;
}

/** A running reader of one remote audio track. */
export interface InboundAudio {
  readonly identity: string;
  /** Stops reading and releases the stream. Idempotent. */
  close(): Promise<void>;
}

/** Reads a remote audio track through rtc-node's AudioStream, which resamples and remixes. */
export function readRemoteAudio(options: InboundAudioOptions): InboundAudio {
  const stream = new AudioStream(options.track, {
    sampleRate: options.sampleRate,
    numChannels: options.channels,
    frameSizeMs: options.frameMs,
  });
  const reader = stream.getReader();
  let stopped = false;
  const loop = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || stopped) break;
        options.onFrame(value.data.slice(), Date.now());
      }
    } catch {
      // A cancelled or failed stream ends the loop; close() or onEnd reports it.
    }
    if (!stopped) {
      stopped = true;
      options.onEnd();
    }
  })();
  let closing: Promise<void> | undefined;
  return {
    identity: options.identity,
    close() {
      closing ??= (async () => {
        stopped = true;
        await reader.cancel().catch(() => {});
        await loop;
        reader.releaseLock();
      })();
      return closing;
    },
  };
}
