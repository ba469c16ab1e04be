/**
 * Speech-like audio without a speech synthesiser: a voiced buzz (harmonics of a gliding
 * pitch, shaped by two vowel formants) in syllables of about 200 ms.
 */
export function speechLike(sampleRate: number, durationMs: number): Int16Array {
  const out = new Int16Array(Math.round((sampleRate * durationMs) / 1000));
  const vowels = [
    [700, 1200],
    [300, 2300],
    [500, 900],
    [400, 2000],
  ] as const;
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const t = i / sampleRate;
    const syllable = Math.floor(t / 0.2);
    const within = (t % 0.2) / 0.2;
    const [f1, f2] = vowels[syllable % vowels.length] ?? [500, 1500];
    const pitch = 120 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * pitch) / sampleRate;
    let value = 0;
    for (let h = 1; h * pitch < 3_500; h++) {
      const f = h * pitch;
      const gain = 1 / (1 + ((f - f1) / 150) ** 2) + 0.6 / (1 + ((f - f2) / 200) ** 2);
      value += gain * Math.sin(h * phase);
    }
    const envelope = Math.sin(Math.PI * within) ** 2 * (syllable % 5 === 4 ? 0.15 : 1);
    out[i] = Math.max(-32_767, Math.min(32_767, Math.round(value * envelope * 6_000)));
  }
  return out;
}

/** A short two-note chime, as an app sound. */
export function chime(sampleRate: number, durationMs: number): Int16Array {
  const out = new Int16Array(Math.round((sampleRate * durationMs) / 1000));
  for (let i = 0; i < out.length; i++) {
    const t = i / sampleRate;
    const frequency = t < durationMs / 2000 ? 660 : 880;
    const decay = Math.exp(-3 * (t % (durationMs / 2000)));
    out[i] = Math.round(12_000 * decay * Math.sin(2 * Math.PI * frequency * t));
  }
  return out;
}
