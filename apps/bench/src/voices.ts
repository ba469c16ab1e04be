import { speechLike } from "@mentra/test-kit";

/** The looped audio every user sends: glasses speech at 16 kHz, TTS-like replies at 24 kHz. */
export interface Voices {
  readonly speech16k: Int16Array;
  readonly tts24k: Int16Array;
}

/**
 * Builds the voices once per run (4 s each, whole 20 ms frames) with the demo's
 * speech-like generator: harmonics under two formants in 200 ms syllables.
 */
export function createVoices(): Voices {
  return { speech16k: speechLike(16_000, 4_000), tts24k: speechLike(24_000, 4_000) };
}
