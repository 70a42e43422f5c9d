/** Token-bucket limits per source address: a flood from one host must not starve everyone else. */
export interface RateLimit {
  /** Sustained messages per second from one source address. */
  perSecond: number;
  /** Messages a source may send at once before the rate applies. */
  burst: number;
  /**
   * Messages per second from all sources together (what the endpoint can answer). Past it, a source is
   * admitted only while it sends less than an equal share of this among the sources active in the last
   * second: forty hosts flooding together cannot starve a prober or a trunk sending a few messages.
   */
  totalPerSecond?: number | null;
}

/** Sources tracked at most; idle ones are forgotten first. */
const MAX_SOURCES = 50_000;

/** Decides per source address whether one more message is admitted. */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private dropped = 0;
  private overloadDrops = 0;
  private readonly total: { tokens: number; at: number } | null;
  /** Messages per source in the current second, and how many sources sent in the one before. */
  private window = { start: 0, counts: new Map<string, number>(), previousSources: 0 };

  constructor(private readonly limit: RateLimit, private readonly now: () => number = () => performance.now()) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('rate limit needs perSecond > 0 and burst >= 1');
    if (limit.totalPerSecond !== undefined && limit.totalPerSecond !== null && !(limit.totalPerSecond > 0)) {
      throw new RangeError('totalPerSecond must be positive');
    }
    this.total = limit.totalPerSecond ? { tokens: limit.totalPerSecond, at: now() } : null;
    this.window.start = now();
  }

  /** Forgets `source` (one that is gone): if it comes back, it starts with a full burst. */
  forget(source: string): void {
    this.buckets.delete(source);
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
    return this.admitTotal(source, now);
  }

  /** The endpoint-wide limit: within it, everyone; past it, only sources under their equal share. */
  private admitTotal(source: string, now: number): boolean {
    const total = this.total;
    const totalPerSecond = this.limit.totalPerSecond;
    if (!total || !totalPerSecond) return true;
    if (now - this.window.start >= 1000) {
      this.window = { start: now, counts: new Map(), previousSources: this.window.counts.size };
    }
    const count = (this.window.counts.get(source) ?? 0) + 1;
    if (this.window.counts.size < MAX_SOURCES || this.window.counts.has(source)) this.window.counts.set(source, count);
    total.tokens = Math.min(totalPerSecond, total.tokens + ((now - total.at) / 1000) * totalPerSecond);
    total.at = now;
    if (total.tokens >= 1) {
      total.tokens -= 1;
      return true;
    }
    const share = totalPerSecond / Math.max(1, this.window.counts.size, this.window.previousSources);
    if (count <= share) {
      // Borrowed from the total: the heavy sources get that much less of it next.
      total.tokens = Math.max(-totalPerSecond, total.tokens - 1);
      return true;
    }
    this.dropped += 1;
    this.overloadDrops += 1;
    return false;
  }

  /** Messages refused because the endpoint as a whole was over `totalPerSecond` (counted in `droppedCount` too). */
  get overloadDroppedCount(): number {
    return this.overloadDrops;
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
