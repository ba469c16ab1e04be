import {
  concatPcm,
  recordTimedTrack,
  type TestParticipant,
  type TimedFrame,
} from "@mentra/test-kit";

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
export type TimedBlock = TimedFrame;

/** Starts recording `trackName` published by `fromIdentity`, resampled to `sampleRate` mono. */
export function recordTrack(
  device: TestParticipant,
  fromIdentity: string,
  trackName: string,
  sampleRate: number,
): TrackRecorder {
  const recorder = recordTimedTrack(device, fromIdentity, trackName, sampleRate);
  return {
    subscribed: recorder.subscribed,
    async stop() {
      return concatPcm((await recorder.stop()).map((frame) => frame.samples));
    },
    timeline: () => recorder.frames(),
  };
}
