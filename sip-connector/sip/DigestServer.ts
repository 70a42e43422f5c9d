import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { computeDigestResponse, parseAlgorithm, parseDigestParams, type DigestAlgorithm } from './DigestAuth.js';
import type { SipRequest } from './SipRequest.js';

/** Options of the server side of Digest. */
export interface DigestServerOptions {
  realm: string;
  /** Challenges offered, most preferred first (RFC 8760 §2.4). */
  algorithms?: DigestAlgorithm[];
  /** Nonces older than this are answered with stale=true (default 300 s). */
  nonceTtlMs?: number;
  /** Looks up the password of a user; undefined when unknown. */
  passwordFor: (username: string) => string | undefined;
}

/** Result of checking a request's credentials. */
export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; stale: boolean; reason: string };

/**
 * Server side of Digest with stateless HMAC-signed nonces (so any restart invalidates them) and replay
 * protection through strictly increasing nonce counts.
 */
export class DigestServer {
  private readonly secret = randomBytes(32);
  private readonly ncSeen = new Map<string, number>();
  readonly realm: string;
  private readonly algorithms: DigestAlgorithm[];
  private readonly ttl: number;

  constructor(private readonly opts: DigestServerOptions) {
    this.realm = opts.realm;
    this.algorithms = opts.algorithms ?? ['SHA-256', 'MD5'];
    this.ttl = opts.nonceTtlMs ?? 300_000;
  }

  private sign(stamp: string): string {
    return createHmac('sha256', this.secret).update(stamp).digest('base64url').slice(0, 22);
  }

  /** A fresh nonce bound to the current time. */
  newNonce(): string {
    const stamp = `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`;
    return `${stamp}.${this.sign(stamp)}`;
  }

  /** Challenge header values, one per offered algorithm. */
  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    return this.algorithms.map((alg) =>
      `Digest realm="${this.realm}", nonce="${nonce}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`);
  }

  /** Checks the Authorization (or Proxy-Authorization) credentials of `req` for this realm. */
  verify(req: SipRequest, header: 'Authorization' | 'Proxy-Authorization' = 'Authorization'): DigestVerdict {
    for (const value of req.getAll(header)) {
      let p: Map<string, string>;
      try {
        p = parseDigestParams(value);
      } catch {
        continue;
      }
      if (p.get('realm') !== this.realm) continue;
      return this.check(p, req.method);
    }
    return { ok: false, stale: false, reason: 'no credentials for realm' };
  }

  private check(p: Map<string, string>, method: string): DigestVerdict {
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (!username || !nonce || !uri || !response) return { ok: false, stale: false, reason: 'incomplete credentials' };
    let algorithm: DigestAlgorithm;
    try {
      algorithm = parseAlgorithm(p.get('algorithm'));
    } catch {
      return { ok: false, stale: false, reason: 'unsupported algorithm' };
    }
    if (!this.algorithms.includes(algorithm)) return { ok: false, stale: false, reason: 'algorithm not offered' };
    const parts = nonce.split('.');
    if (parts.length !== 3 || this.sign(`${parts[0]}.${parts[1]}`) !== parts[2]) {
      return { ok: false, stale: false, reason: 'foreign nonce' };
    }
    const password = this.opts.passwordFor(username);
    if (password === undefined) return { ok: false, stale: false, reason: 'unknown user' };
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (qop !== undefined && (qop !== 'auth' || !nc || !/^[0-9a-fA-F]{8}$/.test(nc) || !cnonce)) {
      return { ok: false, stale: false, reason: 'bad qop parameters' };
    }
    const expected = computeDigestResponse({
      algorithm, username, realm: this.realm, password, method, uri, nonce,
      ...(qop !== undefined ? { qop, nc, cnonce } : {}),
    });
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, stale: false, reason: 'wrong response' };
    // a correct answer to an expired nonce only needs a new nonce, not new credentials (RFC 7616 §3.3 stale)
    if (Date.now() - parseInt(parts[0] as string, 36) > this.ttl) return { ok: false, stale: true, reason: 'stale nonce' };
    if (qop !== undefined) {
      const count = parseInt(nc as string, 16);
      const last = this.ncSeen.get(nonce) ?? 0;
      if (count <= last) return { ok: false, stale: false, reason: 'replayed nonce count' };
      if (this.ncSeen.size > 10_000) this.ncSeen.clear();
      this.ncSeen.set(nonce, count);
    }
    return { ok: true, username };
  }
}
