import { randomBytes } from 'node:crypto';

/** RFC 3261 magic cookie that marks a branch as globally unique. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** A random token of url-safe characters, used for tags, branches, Call-IDs and nonces. */
export function randomToken(bytes = 9): string {
  return randomBytes(bytes).toString('base64url');
}

/** A new Via branch carrying the RFC 3261 magic cookie. */
export function newBranch(): string {
  return BRANCH_COOKIE + randomToken(12);
}
