/**
 * Amplitude of the `frequency` component of `samples` (Goertzel algorithm, one DFT bin), normalised so a
 * full-length sine of amplitude A reads ≈ A. A Hann window keeps leakage from neighbouring tones low.
 */
export function goertzel(samples: ArrayLike<number>, sampleRate: number, frequency: number): number {
  const n = samples.length;
  const w = (2 * Math.PI * frequency) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let windowSum = 0;
  for (let i = 0; i < n; i++) {
    const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    windowSum += hann;
    const s0 = samples[i] * hann + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / windowSum;
}

/** Frequency (from `candidates`) with the most energy. */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number, candidates: number[]): number {
  let best = candidates[0];
  let bestLevel = -1;
  for (const f of candidates) {
    const level = goertzel(samples, sampleRate, f);
    if (level > bestLevel) {
      bestLevel = level;
      best = f;
    }
  }
  return best;
}

/** Level ratio in dB. */
export function db(level: number, reference: number): number {
  return 20 * Math.log10(Math.max(level, 1e-9) / reference);
}
