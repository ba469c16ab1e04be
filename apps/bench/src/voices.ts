import { sineTone, speechLike } from "@mentra/test-kit";
import { TTS_TONE_HZ } from "./pitch.js";

/** The looped audio every user sends: glasses speech at 16 kHz, TTS-like replies at 24 kHz. */
export interface Voices {
  readonly speech16k: Int16Array;
  readonly tts24k: Int16Array;
  /** The listening users' TTS: a 300 Hz tone at 24 kHz, whose pitch the glasses check. */
  readonly tone24k: Int16Array;
  /** The same tone at 16 kHz, for the peer that plays it straight into LiveKit. */
  readonly tone16k: Int16Array;
}

/**
 * Builds the voices once per run (4 s each, whole 20 ms frames) with the demo's
 * speech-like generator: harmonics under two formants in 200 ms syllables.
 */
export function createVoices(): Voices {
  return {
    speech16k: speechLike(16_000, 4_000),
    tts24k: speechLike(24_000, 4_000),
    // 4 s holds whole periods of 300 Hz, so the loop has no seam.
    tone24k: sineTone({ frequencyHz: TTS_TONE_HZ, sampleRate: 24_000, durationMs: 4_000 }),
    tone16k: sineTone({ frequencyHz: TTS_TONE_HZ, sampleRate: 16_000, durationMs: 4_000 }),
  };
}
