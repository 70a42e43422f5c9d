import { TypedEmitter } from './TypedEmitter.js';
import type { AuthBlock, AuthFailureGuardEvents, AuthFailureGuardOptions } from './AuthFailureGuardTypes.js';

interface Tally {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  /** Blocks so far: each doubles the next one (back-off). */
  blocks: number;
}

/** How long a source that authenticated as a user stays trusted for that user's block. */
const KNOWN_GOOD_MS = 24 * 3600_000;

/**
 * Digest brute-force protection (the pike + htable pattern): wrong answers are counted per source address
 * and per user; past a threshold the source, or the user, is refused without its credentials being looked
 * at, for a time that doubles with each block. A user block spares the sources that recently
 * authenticated as that user, so an attacker guessing one user's password cannot lock its phone out.
 */
export class AuthFailureGuard extends TypedEmitter<AuthFailureGuardEvents> {
  private readonly sources = new Map<string, Tally>();
  private readonly users = new Map<string, Tally>();
  private readonly knownGood = new Map<string, number>();
  private readonly options: Required<AuthFailureGuardOptions>;
  private blockedCount = 0;
  /** Refused digest answers by why (`wrong-credentials`, `replayed`, `blocked`, …): a first request without credentials is not one. */
  readonly refusals = new Map<string, number>();

  constructor(options: AuthFailureGuardOptions = {}, private readonly now: () => number = Date.now) {
    super();
    this.options = {
      maxFailuresPerSource: 10, maxFailuresPerUser: 30, windowMs: 60_000, blockMs: 60_000, maxBlockMs: 3600_000,
      maxTrackedKeys: 50_000, ...options,
    };
  }

  /** Whether `source` (or `user`, asked from `source`) is blocked now. */
  isBlocked(source: string, user?: string): boolean {
    const now = this.now();
    if ((this.sources.get(source)?.blockedUntil ?? 0) > now) return true;
    if (user === undefined || (this.users.get(user)?.blockedUntil ?? 0) <= now) return false;
    return (this.knownGood.get(`${user}\n${source}`) ?? 0) <= now;
  }

  /** Counts one wrong answer; `user` when the credentials named one. */
  recordFailure(source: string, user?: string): void {
    this.tally(this.sources, 'source', source, this.options.maxFailuresPerSource);
    if (user !== undefined) this.tally(this.users, 'user', user, this.options.maxFailuresPerUser);
  }

  /** A right answer: the source's count starts over, and the source is trusted for the user. */
  recordSuccess(source: string, user: string): void {
    this.sources.delete(source);
    this.bound(this.knownGood);
    this.knownGood.set(`${user}\n${source}`, this.now() + KNOWN_GOOD_MS);
  }

  /** Counts one refused digest answer, whatever its kind (see `refusals`). */
  countRefusal(reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  /** Blocks imposed so far. */
  get blocks(): number {
    return this.blockedCount;
  }

  private tally(map: Map<string, Tally>, kind: AuthBlock['kind'], key: string, max: number): void {
    const now = this.now();
    let tally = map.get(key);
    if (!tally) {
      this.bound(map);
      tally = { failures: 0, windowStart: now, blockedUntil: 0, blocks: 0 };
      map.set(key, tally);
    }
    if (tally.blockedUntil > now) return;
    if (now - tally.windowStart > this.options.windowMs) {
      tally.failures = 0;
      tally.windowStart = now;
    }
    tally.failures += 1;
    if (tally.failures < max) return;
    const blockedForMs = Math.min(this.options.blockMs * 2 ** tally.blocks, this.options.maxBlockMs);
    tally.blocks += 1;
    tally.blockedUntil = now + blockedForMs;
    this.blockedCount += 1;
    this.safeEmit('blocked', { kind, key, failures: tally.failures, blockedForMs });
    tally.failures = 0;
    tally.windowStart = now;
  }

  private bound(map: Map<string, unknown>): void {
    if (map.size < this.options.maxTrackedKeys) return;
    // Oldest first: Map keeps insertion order.
    const excess = map.size - this.options.maxTrackedKeys + 1;
    let removed = 0;
    for (const key of map.keys()) {
      if (removed++ >= excess) break;
      map.delete(key);
    }
  }
}
