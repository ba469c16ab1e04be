/**
 * Applies `gain` to decoded samples in [-1, 1] and converts them to 16-bit PCM, clipping
 * at full scale instead of wrapping around; NaN samples become silence.
 */
export function toInt16WithGain(samples: Float32Array, gain: number): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const value = Math.round((samples[i] ?? 0) * gain * 32_768);
    // Int16Array would wrap 32768 to -32768 (and stores NaN as 0).
    if (value > 32_767) out[i] = 32_767;
    else if (value < -32_768) out[i] = -32_768;
    else out[i] = value;
  }
  return out;
}

/** The gain of a PlayAudio `volume`: 0 means unity, as deployed. */
export function gainOfVolume(volume: number): number {
  return volume === 0 ? 1 : volume;
}
