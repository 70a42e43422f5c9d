import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { UnauthorizedError } from '../errors.js';

const ISSUER = 'conflux';
const AUDIENCE = 'conflux-room';

/** Why a join token was refused. */
export type TokenRefusal = 'token-expired' | 'token-invalid' | 'token-incomplete';

/** A join token that does not admit anyone, and why (the reason the join-failure metric counts). */
export class JoinTokenError extends UnauthorizedError {
  constructor(message: string, readonly reason: TokenRefusal) { super(message); }
}

export interface JoinGrant {
  room: string;
  identity: string;
  name: string;
  /** May mute and remove the room's other participants (a host). */
  roomAdmin?: boolean;
}

/** Issues and checks the JWTs (HS256) that admit one identity into one room. */
export class JoinTokens {
  readonly #key: Uint8Array;
  readonly #defaultTtlSeconds: number;

  constructor(secret: string, defaultTtlSeconds: number) {
    if (secret.length < 32) throw new Error('join token secret must be at least 32 characters');
    this.#key = new TextEncoder().encode(secret);
    this.#defaultTtlSeconds = defaultTtlSeconds;
  }

  /** Signs a grant; valid for `ttlSeconds` (default from config). */
  async issue(grant: JoinGrant, ttlSeconds = this.#defaultTtlSeconds): Promise<{ token: string; expiresAt: string }> {
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({ room: grant.room, name: grant.name, ...(grant.roomAdmin ? { roomAdmin: true } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(grant.identity)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.#key);
    return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /** Verifies signature, expiry, issuer and audience; throws a JoinTokenError otherwise. */
  async verify(token: string): Promise<JoinGrant> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], clockTolerance: 5,
        // A token that never expires could not be taken back: one without exp is refused.
        requiredClaims: ['exp'],
      });
      if (typeof payload.room !== 'string' || typeof payload.sub !== 'string') {
        throw new JoinTokenError('join token lacks room or identity', 'token-incomplete');
      }
      const name = typeof payload.name === 'string' && payload.name ? payload.name : payload.sub;
      return { room: payload.room, identity: payload.sub, name, roomAdmin: payload.roomAdmin === true };
    } catch (error) {
      if (error instanceof JoinTokenError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new JoinTokenError('join token expired', 'token-expired');
      throw new JoinTokenError('invalid join token', 'token-invalid');
    }
  }
}
