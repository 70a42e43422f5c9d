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

  it('refuses nonsense limits', () => {
    expect(() => new SourceRateLimiter({ perSecond: 0, burst: 5 })).toThrow(RangeError);
    expect(() => new SourceRateLimiter({ perSecond: 5, burst: 0 })).toThrow(RangeError);
  });
});
