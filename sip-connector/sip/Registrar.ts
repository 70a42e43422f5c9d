import { DigestServer, type DigestVerdict } from './DigestServer.js';
import type { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { Binding, RegistrarEvents, RegistrarOptions } from './RegistrarTypes.js';
import type { MessageSource } from './TransportTypes.js';

/** In-memory registrar for one domain with Digest authentication (RFC 3261 §10.3). */
export class Registrar extends TypedEmitter<RegistrarEvents> {
  private readonly bindings = new Map<string, Map<string, Binding>>();
  private readonly digest: DigestServer;
  private readonly passwords: Map<string, string>;
  private readonly minExpires: number;
  private readonly maxExpires: number;
  private readonly defaultExpires: number;
  private readonly sweeper: NodeJS.Timeout;
  readonly domain: string;

  constructor(opts: RegistrarOptions) {
    super();
    this.domain = opts.domain.toLowerCase();
    this.passwords = new Map(opts.users.map((u) => [u.username, u.password]));
    this.minExpires = opts.minExpires ?? 60;
    this.maxExpires = opts.maxExpires ?? 3600;
    this.defaultExpires = opts.defaultExpires ?? 3600;
    this.digest = new DigestServer({
      realm: opts.realm ?? opts.domain, passwordFor: (u) => this.passwords.get(u),
      ...(opts.algorithms ? { algorithms: opts.algorithms } : {}),
      ...(opts.nonceTtlMs !== undefined ? { nonceTtlMs: opts.nonceTtlMs } : {}),
      ...(opts.guard ? { guard: opts.guard } : {}),
    });
    this.sweeper = setInterval(() => this.purge(), 5000);
    this.sweeper.unref();
  }

  /** Whether `username` is one of this domain's users (registered or not). */
  hasUser(username: string): boolean {
    return this.passwords.has(username);
  }

  /**
   * Checks a request's credentials against this domain's users, e.g. an INVITE from a registered user
   * (`Proxy-Authorization`): the same nonces, replay protection and brute-force guard as REGISTER.
   */
  authenticate(req: SipRequest, source: MessageSource, header: 'Authorization' | 'Proxy-Authorization'): DigestVerdict {
    return this.digest.verify(req, header, source.address);
  }

  /** Challenge header values for `source` (one per offered algorithm). */
  challenges(source: MessageSource, stale = false): string[] {
    return this.digest.challenges(stale, source.address);
  }

  /** True when `host` is this registrar's domain. */
  isLocalDomain(host: string): boolean {
    return host.toLowerCase() === this.domain;
  }

  /** Processes a REGISTER and returns the response to send. */
  handle(req: SipRequest, source: MessageSource): SipResponse {
    this.purge();
    if (!this.isLocalDomain(req.uri.host)) return SipResponse.forRequest(req, 404, 'Domain Not Served');
    const verdict = this.digest.verify(req, 'Authorization', source.address);
    if (!verdict.ok) {
      if (verdict.reason === 'blocked') return SipResponse.forRequest(req, 403, undefined, 'reg').warn('Too many failed authentications');
      const res = SipResponse.forRequest(req, 401, undefined, 'reg');
      for (const c of this.digest.challenges(verdict.stale, source.address)) res.add('WWW-Authenticate', c);
      return res;
    }
    const to = req.to;
    if (!this.isLocalDomain(to.uri.host)) return SipResponse.forRequest(req, 404, 'Domain Not Served');
    if (to.uri.user !== verdict.username) return SipResponse.forRequest(req, 403, 'Credentials Do Not Match AOR');
    const aor = `${verdict.username}@${this.domain}`;
    const headerExpires = req.get('Expires');
    const rawContacts = req.getAll('Contact');
    const callId = req.callId;
    const seq = req.cseq.seq;
    const mine = this.bindings.get(aor) ?? new Map<string, Binding>();
    if (rawContacts.includes('*')) {
      if (rawContacts.length !== 1 || headerExpires !== '0') return SipResponse.forRequest(req, 400, 'Bad Wildcard Contact');
      for (const b of mine.values()) this.safeEmit('unregistered', aor, b.contact.uri.toString());
      this.bindings.delete(aor);
      return this.ok(req, aor);
    }
    const now = Date.now();
    const changes: Array<() => void> = [];
    for (const contact of req.contacts) {
      const asked = contact.params.get('expires') ?? headerExpires;
      let expires = asked === undefined || asked === null || !/^\d+$/.test(asked) ? this.defaultExpires : Number(asked);
      if (expires > 0 && expires < this.minExpires) {
        const res = SipResponse.forRequest(req, 423, undefined, 'reg');
        res.add('Min-Expires', this.minExpires);
        return res;
      }
      expires = Math.min(expires, this.maxExpires);
      const key = contact.params.get('+sip.instance') ?? contact.uri.toString();
      const existing = mine.get(key);
      if (existing && existing.callId === callId && existing.cseq >= seq) {
        return SipResponse.forRequest(req, 500, 'Out Of Order REGISTER');
      }
      changes.push(() => {
        if (expires === 0) {
          if (mine.delete(key)) this.safeEmit('unregistered', aor, contact.uri.toString());
          return;
        }
        const c = contact.clone();
        c.params.delete('expires');
        const binding: Binding = { aor, contact: c, expiresAt: now + expires * 1000, callId, cseq: seq, source };
        mine.set(key, binding);
        this.safeEmit('registered', binding);
      });
    }
    for (const apply of changes) apply();
    if (mine.size > 0) this.bindings.set(aor, mine);
    else this.bindings.delete(aor);
    return this.ok(req, aor);
  }

  private ok(req: SipRequest, aor: string): SipResponse {
    const res = SipResponse.forRequest(req, 200, undefined, 'reg');
    const now = Date.now();
    for (const b of this.bindings.get(aor)?.values() ?? []) {
      res.add('Contact', `${b.contact.toString()};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`);
    }
    res.add('Date', new Date().toUTCString());
    return res;
  }

  /** Current bindings of `user@domain` (or a bare username). */
  lookup(aor: string): Binding[] {
    this.purge();
    const key = aor.includes('@') ? aor.toLowerCase() : `${aor}@${this.domain}`;
    return [...(this.bindings.get(key)?.values() ?? [])];
  }

  private purge(): void {
    const now = Date.now();
    for (const [aor, mine] of this.bindings) {
      for (const [key, b] of mine) {
        if (b.expiresAt <= now) {
          mine.delete(key);
          this.safeEmit('unregistered', aor, b.contact.uri.toString());
        }
      }
      if (mine.size === 0) this.bindings.delete(aor);
    }
  }

  /** Stops the expiry sweeper. */
  close(): void {
    clearInterval(this.sweeper);
  }
}
