import type { Logger } from '../../server/logging/Logger.js';
import type { AuthFailureGuard } from '../sip/AuthFailureGuard.js';
import { DigestServer } from '../sip/DigestServer.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import { warningValue } from '../sip/SipResponse.js';
import type { InboundTrunk } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';

/** Digest failures that mean wrong credentials (403); any other failure is answered with a new challenge. */
const GUESS_FAILURES: ReadonlySet<string> = new Set(['unknown-user', 'wrong-credentials', 'replayed', 'qop-required', 'incomplete', 'unsupported-algorithm']);

/** Digest authentication of calls on inbound trunks that have credentials, one digest server per trunk. */
export class TrunkAuthenticator {
  readonly #realm: string;
  readonly #guard: AuthFailureGuard | undefined;
  readonly #logger: Logger;
  readonly #servers = new Map<string, DigestServer>();

  constructor(store: SipConfigStore, realm: string, guard: AuthFailureGuard | undefined, logger: Logger) {
    this.#realm = realm;
    this.#guard = guard;
    this.#logger = logger;
    // A trunk's new password takes effect at once: its digest server is made again on its next call.
    store.on('change', (kind, id) => {
      if (kind === 'inboundTrunks') this.#servers.delete(id);
    });
  }

  /**
   * Whether the call may go on: true for a trunk without credentials or a right answer. Otherwise the call is
   * answered here: 407 without credentials or with a stale nonce, 403 when wrong or when the source is blocked.
   */
  authorize(sip: IncomingCall, trunk: InboundTrunk): boolean {
    if (!trunk.auth) return true;
    let server = this.#servers.get(trunk.id);
    if (!server) {
      const auth = trunk.auth;
      // MD5 first: PBXs and carriers calling in over a trunk (SIPp too) commonly answer only the first
      // challenge and know only MD5, so a SHA-256 challenge on top made them fail; SHA-256 stays on offer.
      server = new DigestServer({
        realm: this.#realm, algorithms: ['MD5', 'SHA-256'],
        passwordFor: (user) => (user === auth.username ? auth.password : undefined),
        ...(this.#guard ? { guard: this.#guard } : {}),
      });
      this.#servers.set(trunk.id, server);
    }
    const client = sip.source.address;
    const verdict = server.verify(sip.invite, 'Proxy-Authorization', client);
    if (verdict.ok) return true;
    if (verdict.reason === 'blocked') {
      sip.reject(403, 'Forbidden', { Warning: warningValue('Too many failed authentications') });
    } else if (!GUESS_FAILURES.has(verdict.reason)) {
      // No credentials yet, a stale nonce, or one issued to another address: a fresh challenge.
      sip.reject(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': server.challenges(verdict.stale, client) });
    } else {
      this.#logger.warn({ callId: sip.callId, trunk: trunk.id, reason: verdict.reason }, 'inbound call with wrong credentials');
      sip.reject(403, 'Forbidden');
    }
    return false;
  }
}
