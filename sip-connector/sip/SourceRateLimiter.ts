/** Token-bucket limits per source address: a flood from one host must not starve everyone else. */
export interface RateLimit {
  /** Sustained messages per second from one source address. */
  perSecond: number;
  /** Messages a source may send at once before the rate applies. */
  burst: number;
}

/** Sources tracked at most; idle ones are forgotten first. */
const MAX_SOURCES = 50_000;

/** Decides per source address whether one more message is admitted. */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private dropped = 0;

  constructor(private readonly limit: RateLimit, private readonly now: () => number = () => performance.now()) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('rate limit needs perSecond > 0 and burst >= 1');
  }

  /** True when `source` may send one more message now (and counts it). */
  admit(source: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(source);
    if (!bucket) {
      if (this.buckets.size >= MAX_SOURCES) this.forgetIdle(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(source, bucket);
    } else {
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) {
      this.dropped += 1;
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  /** Messages refused so far. */
  get droppedCount(): number {
    return this.dropped;
  }

  private forgetIdle(now: number): void {
    // A full bucket is an idle source: dropping it loses nothing.
    const refillMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [source, bucket] of this.buckets) {
      if (now - bucket.at >= refillMs) this.buckets.delete(source);
    }
    if (this.buckets.size >= MAX_SOURCES) this.buckets.clear();
  }
}
