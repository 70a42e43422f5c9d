import { describe, expect, it } from 'vitest';
import { MediaConfigError } from '../../../../sip-connector/media/MediaConfigError.js';
import { Resampler } from '../../../../sip-connector/media/Resampler.js';
import { db, dominantFrequency, goertzel } from './support/goertzel.js';
import { concat, tone } from './support/tone.js';

/** Streams `frames` 20 ms frames of a tone through a resampler; returns the output after the filter settles. */
function stream(r: Resampler, frequency: number, amplitude: number, frames: number): Int16Array {
  const out: Int16Array[] = [];
  for (let f = 0; f < frames; f++) {
    const input = tone(frequency, r.inputRate, r.inputFrame, amplitude, f * r.inputFrame);
    const o = new Int16Array(r.outputFrame);
    r.process(input, o);
    out.push(o);
  }
  return concat(out.slice(2));
}

describe('Resampler', () => {
  it('keeps a 1 kHz tone through 8k → 48k → 8k: frequency, level, and no energy elsewhere', () => {
    const up = new Resampler(8000, 48000);
    const down = new Resampler(48000, 8000);
    const frames: Int16Array[] = [];
    const high: Int16Array[] = [];
    for (let f = 0; f < 25; f++) {
      const input = tone(1000, 8000, 160, 10000, f * 160);
      const mid = new Int16Array(960);
      up.process(input, mid);
      const back = new Int16Array(160);
      down.process(mid, back);
      if (f >= 3) {
        frames.push(back);
        high.push(mid);
      }
    }
    const at48 = concat(high);
    const at8 = concat(frames);
    expect(dominantFrequency(at48, 48000, [500, 1000, 2000, 7000, 9000, 15000])).toBe(1000);
    // Zero-stuffing images of 1 kHz at 8k land at 7 and 9 kHz; the interpolation filter must remove them.
    expect(db(goertzel(at48, 48000, 7000), 10000)).toBeLessThan(-50);
    expect(db(goertzel(at48, 48000, 9000), 10000)).toBeLessThan(-50);
    expect(dominantFrequency(at8, 8000, [250, 500, 900, 1000, 1100, 2000, 3000])).toBe(1000);
    expect(goertzel(at8, 8000, 1000)).toBeGreaterThan(9500);
    expect(goertzel(at8, 8000, 1000)).toBeLessThan(10500);
  });

  it('strongly attenuates a 6 kHz tone at 48 kHz going to 8 kHz (it would alias to 2 kHz)', () => {
    const out = stream(new Resampler(48000, 8000), 6000, 16000, 20);
    expect(db(goertzel(out, 8000, 2000), 16000)).toBeLessThan(-50);
    // And a tone in the passband goes through the same filter at unity gain.
    const pass = stream(new Resampler(48000, 8000), 1500, 16000, 20);
    expect(db(goertzel(pass, 8000, 1500), 16000)).toBeGreaterThan(-0.5);
  });

  it('handles 16 kHz both ways and 8k ↔ 16k', () => {
    for (const [from, to] of [[16000, 48000], [48000, 16000], [8000, 16000], [16000, 8000]]) {
      const r = new Resampler(from, to);
      expect(r.outputFrame).toBe(to / 50);
      const out = stream(r, 1000, 8000, 15);
      expect(dominantFrequency(out, to, [500, 1000, 2000, 3000])).toBe(1000);
      expect(db(goertzel(out, to, 1000), 8000)).toBeGreaterThan(-0.5);
    }
    // 12 kHz at 48k must not fold to 4 kHz going to 16k.
    const folded = stream(new Resampler(48000, 16000), 12000, 16000, 15);
    expect(db(goertzel(folded, 16000, 4000), 16000)).toBeLessThan(-50);
  });

  it('is seamless across frame boundaries (no clicks from lost history)', () => {
    const r = new Resampler(8000, 48000);
    const out = stream(r, 440, 12000, 20);
    let maxStep = 0;
    for (let i = 1; i < out.length; i++) maxStep = Math.max(maxStep, Math.abs(out[i] - out[i - 1]));
    // A 440 Hz sine of amplitude 12000 at 48 kHz moves at most 2π·440/48000·12000 ≈ 691 per sample.
    expect(maxStep).toBeLessThan(720);
  });

  it('is a copy at equal rates and rejects unsupported rates', () => {
    const r = new Resampler(8000, 8000);
    const input = tone(1000, 8000, 160, 1000);
    const out = new Int16Array(160);
    r.process(input, out);
    expect(out).toEqual(input);
    expect(() => new Resampler(44100, 48000)).toThrow(MediaConfigError);
    expect(() => new Resampler(48000, 8000, 100)).toThrow(MediaConfigError);
  });
});
