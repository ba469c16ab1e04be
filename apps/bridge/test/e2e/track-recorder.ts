import {
  AudioStream,
  type RemoteTrack,
  type RemoteTrackPublication,
  RoomEvent,
  TrackKind,
} from "@livekit/rtc-node";
import { concatPcm, type TestParticipant } from "@mentra/test-kit";

/** Records one named audio track of one remote participant, as a device hears it. */
export interface TrackRecorder {
  /** Resolves once the track is subscribed. */
  readonly subscribed: Promise<void>;
  /** Stops and returns the mono samples at the requested rate. */
  stop(): Promise<Int16Array>;
  /** Each block received so far with the wall-clock time (Date.now()) it arrived. */
  timeline(): readonly TimedBlock[];
}

/** A block of samples as the device received it. */
export interface TimedBlock {
  readonly at: number;
  readonly samples: Int16Array;
}

/** Starts recording `trackName` published by `fromIdentity`, resampled to `sampleRate` mono. */
export function recordTrack(
  device: TestParticipant,
  fromIdentity: string,
  trackName: string,
  sampleRate: number,
): TrackRecorder {
  const chunks: Int16Array[] = [];
  const times: number[] = [];
  const readers: Promise<void>[] = [];
  const streams: ReadableStreamDefaultReader<{ data: Int16Array }>[] = [];
  let markSubscribed: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    markSubscribed = resolve;
  });
  const attach = (track: RemoteTrack, publication: RemoteTrackPublication, identity: string) => {
    if (identity !== fromIdentity || track.kind !== TrackKind.KIND_AUDIO) return;
    if (publication.name !== trackName) return;
    const reader = new AudioStream(track, { sampleRate, numChannels: 1 }).getReader();
    streams.push(reader);
    readers.push(
      (async () => {
        for (;;) {
          const { done, value } = await reader
            .read()
            .catch(() => ({ done: true, value: undefined }));
          if (done || value === undefined) return;
          chunks.push(value.data.slice());
          times.push(Date.now());
        }
      })(),
    );
    markSubscribed();
  };
  const onTrack = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: { identity: string },
  ) => attach(track, publication, participant.identity);
  device.room.on(RoomEvent.TrackSubscribed, onTrack);
  for (const participant of device.room.remoteParticipants.values()) {
    for (const publication of participant.trackPublications.values()) {
      if (publication.track) attach(publication.track, publication, participant.identity);
    }
  }
  return {
    subscribed,
    async stop() {
      device.room.off(RoomEvent.TrackSubscribed, onTrack);
      await Promise.all(streams.map((reader) => reader.cancel().catch(() => {})));
      await Promise.allSettled(readers);
      return concatPcm(chunks);
    },
    timeline: () => chunks.map((samples, i) => ({ at: times[i] ?? 0, samples })),
  };
}
