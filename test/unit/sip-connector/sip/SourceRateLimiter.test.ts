import { describe, expect, it } from 'vitest';
import { SourceRateLimiter } from '../../../../sip-connector/sip/SourceRateLimiter.js';

describe('SourceRateLimiter', () => {
  it('admits a burst, then the sustained rate, per source', () => {
    let now = 0;
    const limiter = new SourceRateLimiter({ perSecond: 10, burst: 5 }, () => now);
    const admitted = (source: string, n: number) => Array.from({ length: n }, () => limiter.admit(source)).filter(Boolean).length;
    expect(admitted('10.0.0.1', 20)).toBe(5);
    expect(admitted('10.0.0.2', 3)).toBe(3);
    now += 500;
    expect(admitted('10.0.0.1', 20)).toBe(5);
    now += 100;
    expect(admitted('10.0.0.1', 20)).toBe(1);
    now += 10_000;
    expect(admitted('10.0.0.1', 20)).toBe(5);
    expect(limiter.droppedCount).toBe(15 + 15 + 19 + 15);
  });

  it('past the endpoint-wide total, admits only sources under an equal share: forty floods cannot starve a prober', () => {
    let now = 0;
    const limiter = new SourceRateLimiter({ perSecond: 1000, burst: 1000, totalPerSecond: 2000 }, () => now);
    const floods = Array.from({ length: 40 }, (_, i) => `10.0.1.${i}`);
    let probes = 0;
    let flooded = 0;
    // Ten seconds: each flood sends 500/s (20,000/s together, ten times the total), the prober 20/s.
    for (let ms = 0; ms < 10_000; ms += 10) {
      now = ms;
      for (const source of floods) for (let k = 0; k < 5; k++) if (limiter.admit(source)) flooded++;
      if (ms % 50 === 0 && limiter.admit('10.0.2.1')) probes++;
    }
    expect(probes).toBe(200);
    // The floods get about the total between them (the prober's share aside), not what they sent.
    expect(flooded / 10).toBeGreaterThan(1800);
    expect(flooded / 10).toBeLessThan(2600);
    expect(limiter.overloadDroppedCount).toBeGreaterThan(150_000);
  });

  it('refuses nonsense limits', () => {
    expect(() => new SourceRateLimiter({ perSecond: 5, burst: 5, totalPerSecond: 0 })).toThrow(RangeError);
    expect(() => new SourceRateLimiter({ perSecond: 0, burst: 5 })).toThrow(RangeError);
    expect(() => new SourceRateLimiter({ perSecond: 5, burst: 0 })).toThrow(RangeError);
  });
});
