/** Helpers for end-to-end tests against a real livekit-server: participants, tokens, audio analysis. */
export { DisconnectReason } from "@livekit/rtc-node";
export {
  audibleMs,
  concatPcm,
  dominantFrequency,
  type HeardTone,
  heardTone,
  leBytes,
  loudWindows,
  sineTone,
  trimSilence,
} from "./audio.js";
export { localBridgeEnv } from "./bridge-env.js";
export {
  type ChirpProbe,
  type ChirpProbeOptions,
  chirpProbe,
  feedPaced,
  type PathLatency,
  pathLatency,
  publishTimedMic,
  recordTimedTrack,
  type TimedFrame,
  type TimedMic,
  type TimedRecorder,
} from "./chirp-latency.js";
export { type Cleanups, runCleanups } from "./cleanups.js";
export {
  type DeviceFarm,
  FARM_BLOCK_SAMPLES,
  type SendReport,
  startDeviceFarm,
} from "./device-farm.js";
export {
  createDeviceSender,
  type DeviceFaults,
  type DevicePacketFormat,
  type DeviceSender,
  type DeviceSenderOptions,
  type PublishData,
  type SentPacket,
} from "./device-packets.js";
export { FAULT_REPORT_DIR_ENV, type FaultRecord, recordFault } from "./fault-report.js";
export {
  type AudioRecorder,
  type JoinOptions,
  joinParticipant,
  type ReceivedData,
  type TestParticipant,
} from "./participant.js";
export { freePort } from "./ports.js";
export {
  type HistogramSeries,
  histogramDelta,
  histogramQuantile,
  readHistogram,
} from "./prometheus.js";
export {
  deleteRoom,
  httpUrlOf,
  listParticipantIdentities,
  removeParticipant,
  setTrackMuted,
} from "./room-admin.js";
export {
  type Alignment,
  type ChirpOptions,
  chirp,
  findOffset,
  findToneGlitches,
  type HeardExtent,
  heardExtent,
  indexOfSequence,
  type SweepTrainOptions,
  sweepTrain,
  type ToneGlitch,
  type ToneGlitchOptions,
} from "./signal.js";
export {
  type BridgeTarget,
  type GrpcHealth,
  grpcHealthCheck,
  type StartAndTimeOptions,
  startAndTime,
  type TimedStart,
} from "./startup-probe.js";
export { type LiveKitCredentials, mintToken } from "./token.js";
export {
  type JoinUserWithDeviceOptions,
  joinUserWithDevice,
  type UserWithDevice,
} from "./user-with-device.js";
export { chime, speechLike } from "./voices.js";
export { type WaitForOptions, waitFor } from "./wait-for.js";
