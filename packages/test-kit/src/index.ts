/** Helpers for end-to-end tests against a real livekit-server: participants, tokens, audio analysis. */
export { audibleMs, concatPcm, dominantFrequency, sineTone, trimSilence } from "./audio.js";
export {
  type AudioRecorder,
  joinParticipant,
  type ReceivedData,
  type TestParticipant,
} from "./participant.js";
export { type LiveKitCredentials, mintToken } from "./token.js";
