import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { computeDigestResponse, parseAlgorithm, parseDigestParams, type DigestAlgorithm } from './DigestAuth.js';
import type { AuthFailureGuard } from './AuthFailureGuard.js';
import type { SipRequest } from './SipRequest.js';

/** Options of the server side of Digest. */
export interface DigestServerOptions {
  realm: string;
  /** Challenges offered, most preferred first (RFC 8760 §2.4). */
  algorithms?: DigestAlgorithm[];
  /** Nonces older than this are answered with stale=true (default 300 s). */
  nonceTtlMs?: number;
  /** Nonces whose counts are remembered at most; past it the oldest are forgotten and turn stale (default 20,000). */
  maxTrackedNonces?: number;
  /** Looks up the password of a user; undefined when unknown. */
  passwordFor: (username: string) => string | undefined;
  /** Counts wrong answers per client and user, and refuses blocked ones before their credentials are checked. */
  guard?: AuthFailureGuard;
}

/** Why credentials were refused; `wrong-credentials` is the only one that says a password was guessed wrong. */
export type DigestFailure =
  | 'no-credentials' | 'incomplete' | 'unsupported-algorithm' | 'foreign-nonce' | 'qop-required'
  | 'unknown-user' | 'wrong-credentials' | 'stale' | 'replayed' | 'blocked';

/** Failures that count towards a block: guesses and replays, not a client that merely lacks a fresh nonce. */
const GUESSES: ReadonlySet<DigestFailure> = new Set(['unknown-user', 'wrong-credentials', 'replayed']);

/** Result of checking a request's credentials. */
export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; stale: boolean; reason: DigestFailure; username?: string };

/**
 * Server side of Digest. Nonces are stateless and HMAC-signed over their time stamp and the client they
 * were issued to (so a restart invalidates them, and an answer replayed from another address is
 * refused); only `qop=auth` answers are taken, and each nonce count is accepted once, strictly
 * increasing (RFC 7616 §3.4, §5.5).
 */
export class DigestServer {
  private readonly secret = randomBytes(32);
  /** Highest nonce count seen per nonce, oldest nonce first. */
  private readonly ncSeen = new Map<string, number>();
  /** Nonces stamped at or before this instant were forgotten by `ncSeen`: they are stale, never replayable. */
  private forgottenBefore = 0;
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  private readonly ttl: number;
  private readonly maxTracked: number;

  constructor(private readonly opts: DigestServerOptions) {
    this.realm = opts.realm;
    this.algorithms = opts.algorithms ?? ['MD5'];
    if (this.algorithms.length === 0) throw new RangeError('digest needs at least one algorithm');
    this.ttl = opts.nonceTtlMs ?? 300_000;
    this.maxTracked = opts.maxTrackedNonces ?? 20_000;
  }

  private sign(stamp: string, client: string): string {
    return createHmac('sha256', this.secret).update(`${stamp}|${client}`).digest('base64url').slice(0, 22);
  }

  /** A fresh nonce bound to the current time and to `client` (the address the challenge goes to). */
  newNonce(client = ''): string {
    const stamp = `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`;
    return `${stamp}.${this.sign(stamp, client)}`;
  }

  /** Challenge header values, one per offered algorithm, sharing one nonce for `client`. */
  challenges(stale = false, client = ''): string[] {
    const nonce = this.newNonce(client);
    return this.algorithms.map((alg) =>
      `Digest realm="${this.realm}", nonce="${nonce}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`);
  }

  /** Checks the Authorization (or Proxy-Authorization) credentials `client` sent in `req` for this realm. */
  verify(req: SipRequest, header: 'Authorization' | 'Proxy-Authorization' = 'Authorization', client = ''): DigestVerdict {
    const verdict = this.guarded(req, header, client);
    if (!verdict.ok && verdict.reason !== 'no-credentials') this.opts.guard?.countRefusal(verdict.reason);
    return verdict;
  }

  private guarded(req: SipRequest, header: 'Authorization' | 'Proxy-Authorization', client: string): DigestVerdict {
    const guard = this.opts.guard;
    if (guard?.isBlocked(client)) return { ok: false, stale: false, reason: 'blocked' };
    const verdict = this.credentialsOf(req, header, client);
    if (!guard) return verdict;
    const { username } = verdict;
    if (username !== undefined && guard.isBlocked(client, username)) return { ok: false, stale: false, reason: 'blocked', username };
    if (verdict.ok) guard.recordSuccess(client, verdict.username);
    else if (GUESSES.has(verdict.reason)) {
      guard.recordFailure(client, verdict.reason === 'wrong-credentials' ? verdict.username : undefined);
    }
    return verdict;
  }

  private credentialsOf(req: SipRequest, header: 'Authorization' | 'Proxy-Authorization', client: string): DigestVerdict {
    for (const value of req.getAll(header)) {
      let p: Map<string, string>;
      try {
        p = parseDigestParams(value);
      } catch {
        continue;
      }
      if (p.get('realm') !== this.realm) continue;
      return this.check(p, req.method, client);
    }
    return { ok: false, stale: false, reason: 'no-credentials' };
  }

  private check(p: Map<string, string>, method: string, client: string): DigestVerdict {
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (!username || !nonce || !uri || !response) return { ok: false, stale: false, reason: 'incomplete' };
    let algorithm: DigestAlgorithm;
    try {
      algorithm = parseAlgorithm(p.get('algorithm'));
    } catch {
      return { ok: false, stale: false, reason: 'unsupported-algorithm' };
    }
    if (!this.algorithms.includes(algorithm)) return { ok: false, stale: false, reason: 'unsupported-algorithm' };
    const parts = nonce.split('.');
    const expectedSignature = parts.length === 3 ? this.sign(`${parts[0]}.${parts[1]}`, client) : '';
    if (parts.length !== 3 || !safeEqual(expectedSignature, parts[2] as string)) {
      // Issued to another client (or by another process): a new challenge, never a verdict on the password.
      return { ok: false, stale: false, reason: 'foreign-nonce' };
    }
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    // RFC 2069 answers (no qop) carry no nonce count, so nothing stops their replay: refused.
    if (qop !== 'auth' || !nc || !/^[0-9a-fA-F]{8}$/.test(nc) || !cnonce) {
      return { ok: false, stale: false, reason: 'qop-required', username };
    }
    const password = this.opts.passwordFor(username);
    if (password === undefined) return { ok: false, stale: false, reason: 'unknown-user', username };
    const expected = computeDigestResponse({ algorithm, username, realm: this.realm, password, method, uri, nonce, qop, nc, cnonce });
    if (!safeEqual(expected, response.toLowerCase())) return { ok: false, stale: false, reason: 'wrong-credentials', username };
    // A correct answer to an expired or forgotten nonce only needs a new nonce (RFC 7616 §3.3 stale).
    const issuedAt = parseInt(parts[0] as string, 36);
    if (Date.now() - issuedAt > this.ttl || issuedAt <= this.forgottenBefore) {
      return { ok: false, stale: true, reason: 'stale', username };
    }
    const count = parseInt(nc, 16);
    if (count <= (this.ncSeen.get(nonce) ?? 0)) return { ok: false, stale: false, reason: 'replayed', username };
    this.remember(nonce, count);
    return { ok: true, username };
  }

  private remember(nonce: string, count: number): void {
    if (!this.ncSeen.has(nonce) && this.ncSeen.size >= this.maxTracked) {
      const now = Date.now();
      for (const [seen] of this.ncSeen) {
        if (this.ncSeen.size < this.maxTracked && now - parseInt(seen, 36) <= this.ttl) break;
        this.ncSeen.delete(seen);
        this.forgottenBefore = Math.max(this.forgottenBefore, parseInt(seen, 36));
      }
    }
    // Re-inserted so the map stays ordered by last use, oldest first.
    this.ncSeen.delete(nonce);
    this.ncSeen.set(nonce, count);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
