/** Thresholds of the authentication failure guard. */
export interface AuthFailureGuardOptions {
  /** Wrong answers from one source address within `windowMs` that block it (default 10). */
  maxFailuresPerSource?: number;
  /** Wrong answers for one user, from any source, within `windowMs` that block the user (default 30). */
  maxFailuresPerUser?: number;
  /** Window failures are counted over (default 60 s). */
  windowMs?: number;
  /** First block; each further block of the same key doubles it, up to `maxBlockMs` (default 60 s). */
  blockMs?: number;
  /** Longest block (default 1 h). */
  maxBlockMs?: number;
  /** Keys tracked at most; the oldest are forgotten first (default 50,000). */
  maxTrackedKeys?: number;
}

/** A block the guard put in place. */
export interface AuthBlock {
  kind: 'source' | 'user';
  /** The source address or the user name. */
  key: string;
  failures: number;
  blockedForMs: number;
}

export type AuthFailureGuardEvents = {
  blocked: [block: AuthBlock];
};
