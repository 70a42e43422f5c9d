/**
 * Peer-supplied intervals (Session-Expires, Expires, Min-Expires) feed timers: each is clamped to a sane
 * range before use. Node's timers hold 2^31-1 ms (24.8 days); anything longer fires at once, so an
 * unclamped `Session-Expires: 5000000` turned into a re-INVITE storm.
 */

/** Longest session interval we accept or grant (RFC 4028 leaves the maximum to local policy). */
export const MAX_SESSION_EXPIRES_SEC = 86_400;
/** Longest registration we keep refreshing on as granted; a longer grant is refreshed as if it were this. */
export const MAX_REGISTRATION_SEC = 86_400;
/** Longest delay a timer may be armed with. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Clamps `seconds` into [min, max]; NaN becomes `min`. */
export function clampSeconds(seconds: number, min: number, max: number): number {
  if (!Number.isFinite(seconds)) return Number.isNaN(seconds) ? min : max;
  return Math.min(max, Math.max(min, Math.floor(seconds)));
}

/** A delay in ms that a timer can hold. */
export function timerDelayMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}
