import type { RemoteTrack } from "@livekit/rtc-node";
import { type InboundAudio, readRemoteAudio } from "./inbound-audio.js";
import type { ReceiveFormat, RoomLinkHandlers } from "./room-link-types.js";

/** The readers of a room link's subscribed microphone tracks, one per track SID. */
export interface InboundReaders {
  /** Starts reading a subscribed track at the current format. */
  start(trackSid: string, track: RemoteTrack, identity: string): void;
  /** Stops a track's reader, if any, and reports it ended. */
  stop(trackSid: string): void;
  /** Stops the readers of every track of `identity`. */
  stopIdentity(identity: string): void;
  /** Stops every reader. */
  stopAll(): void;
  /** Converts tracks to `format` from the next start() on. */
  setFormat(format: ReceiveFormat): void;
  /** Restarts every subscribed track's reader at the current format. */
  restartAll(): void;
  /** Readers running. */
  size(): number;
}

/** Creates the inbound readers of one room link; frames and ends go to `handlers`. */
export function createInboundReaders(
  handlers: RoomLinkHandlers,
  initial: ReceiveFormat,
): InboundReaders {
  const inbound = new Map<string, InboundAudio>();
  // The subscribed tracks behind `inbound`, to restart their readers at a new format.
  const subscribed = new Map<string, { track: RemoteTrack; identity: string }>();
  let receive = initial;

  const start = (trackSid: string, track: RemoteTrack, identity: string) => {
    const origin = { identity, trackSid };
    subscribed.set(trackSid, { track, identity });
    inbound.set(
      trackSid,
      readRemoteAudio({
        track,
        identity,
        ...receive,
        onFrame: (samples, receivedAt) => handlers.onAudioFrame(samples, origin, receivedAt),
        onEnd: () => stop(trackSid),
      }),
    );
  };
  const stop = (trackSid: string) => {
    const audio = inbound.get(trackSid);
    subscribed.delete(trackSid);
    if (audio === undefined) return;
    inbound.delete(trackSid);
    void audio.close();
    handlers.onRemoteTrack?.("ended", { identity: audio.identity, trackSid });
  };

  return {
    start,
    stop,
    stopIdentity(identity) {
      for (const [sid, audio] of inbound) if (audio.identity === identity) stop(sid);
    },
    stopAll() {
      for (const sid of [...inbound.keys()]) stop(sid);
    },
    setFormat(format) {
      receive = format;
    },
    restartAll() {
      for (const [sid, { track, identity }] of [...subscribed]) {
        const old = inbound.get(sid);
        inbound.delete(sid);
        void old?.close();
        start(sid, track, identity);
      }
    },
    size: () => inbound.size,
  };
}
