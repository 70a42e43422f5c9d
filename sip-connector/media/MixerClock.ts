import { performance } from 'node:perf_hooks';

/** Timing counters of a MixerClock. */
export interface MixerClockStats {
  ticks: number;
  lateTicks: number;
  maxLatenessMs: number;
  skippedTicks: number;
}

/**
 * Fixed-period clock scheduled by absolute time: tick k is due at start + k × period, whatever happened
 * before, so timer jitter never accumulates into drift (a chain of setTimeout(period) runs slow by the sum
 * of every callback's lateness). After a stall it runs the missed ticks back to back, up to a limit, and
 * skips the rest: a burst of stale audio is worse than a gap.
 */
export class MixerClock {
  private origin = 0;
  private k = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  readonly stats: MixerClockStats = { ticks: 0, lateTicks: 0, maxLatenessMs: 0, skippedTicks: 0 };

  constructor(
    private readonly onTick: (nowMs: number) => void,
    private readonly periodMs = 20,
    /** Half a packet time: later than this, a receiver's jitter buffer may already have underrun. */
    private readonly lateThresholdMs = 10,
    private readonly maxCatchUpTicks = 3,
  ) {}

  /** Starts ticking; the first tick is due immediately. */
  start(): void {
    if (this.ticking) return;
    this.ticking = true;
    this.origin = performance.now();
    this.k = 0;
    this.run();
  }

  /** Whether the clock is ticking. */
  get running(): boolean {
    return this.ticking;
  }

  /** Stops ticking. */
  stop(): void {
    this.ticking = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private run = (): void => {
    const now = performance.now();
    let due = this.origin + this.k * this.periodMs;
    const behind = Math.floor((now - due) / this.periodMs);
    if (behind > this.maxCatchUpTicks) {
      const skip = behind - this.maxCatchUpTicks;
      this.k += skip;
      this.stats.skippedTicks += skip;
      due = this.origin + this.k * this.periodMs;
    }
    // A tick may stop the clock: then nothing more runs and nothing is rescheduled.
    while (due <= now && this.ticking) {
      const lateness = now - due;
      if (lateness > this.stats.maxLatenessMs) this.stats.maxLatenessMs = lateness;
      if (lateness > this.lateThresholdMs) this.stats.lateTicks++;
      this.stats.ticks++;
      this.onTick(now);
      this.k++;
      due = this.origin + this.k * this.periodMs;
    }
    if (this.ticking) this.timer = setTimeout(this.run, Math.max(0, due - performance.now()));
  };
}
