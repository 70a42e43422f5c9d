import { ConfluxError } from '../../server/errors.js';
import { createLogger, type Logger } from '../../server/logging/Logger.js';
import type { AuthFailureGuard } from '../sip/AuthFailureGuard.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { SipUri } from '../sip/SipUri.js';
import { CallDispatcher } from './CallDispatcher.js';
import { CallRoutes } from './CallRoutes.js';
import type { RegisteredUserCalls } from './RegisteredUserCalls.js';
import type { SipCallManager } from './SipCallManager.js';
import type { SipConfigStore } from './SipConfigStore.js';
import { TrunkAuthenticator } from './TrunkAuthenticator.js';

export interface InboundRouterOptions {
  store: SipConfigStore;
  calls: SipCallManager;
  userCalls: RegisteredUserCalls;
  /** The user part of our own Contact (what a PBX puts in the Request-URI of calls over a trunk registration). */
  contactUser: string;
  /** Realm of the digest challenge inbound trunks with credentials get. */
  realm: string;
  /** Brute-force protection shared with the registrar; none: wrong answers are not counted. */
  authGuard?: AuthFailureGuard | undefined;
}

const userOf = (uri: SipUri | undefined): string => uri?.user ?? '';

/**
 * The number the caller dialled. A PBX delivering a call over a trunk registration puts our registered
 * Contact in the Request-URI (its user is the UA's own name, not the extension), so the dialled number is
 * then only in To.
 */
function calledNumberOf(sip: IncomingCall, contactUser: string): string {
  const requestUser = userOf(sip.invite.uri);
  const toUser = userOf(sip.invite.to.uri);
  return requestUser && requestUser !== contactUser ? requestUser : toUser || requestUser;
}

/**
 * Where an inbound INVITE goes, always in this order:
 * 1. A registered user's call (over a WebSocket, or From a user of our domain): digest-authenticated (407),
 *    then to the called user if it is one of ours, else out through the first `user-to-trunk` route that
 *    takes the number, else into the room of the first dispatch rule naming no trunk (RegisteredUserCalls).
 * 2. Anything else arrives on an inbound trunk (403 when none accepts the source and number; 407/403 for a
 *    trunk with credentials), then goes to a registered user when a `trunk-to-user` route takes the called
 *    number (480 when that user is offline),
 * 3. else into the room of the first dispatch rule that takes it (404 when none does).
 */
export class InboundRouter {
  readonly #options: InboundRouterOptions;
  readonly #dispatcher: CallDispatcher;
  readonly #routes: CallRoutes;
  readonly #trunkAuth: TrunkAuthenticator;
  readonly #logger: Logger = createLogger('sip-calls');

  constructor(options: InboundRouterOptions) {
    this.#options = options;
    this.#dispatcher = new CallDispatcher(options.store);
    this.#routes = new CallRoutes(options.store);
    this.#trunkAuth = new TrunkAuthenticator(options.store, options.realm, options.authGuard, this.#logger);
  }

  handle(sip: IncomingCall): void {
    if (this.#options.userCalls.claims(sip)) {
      this.#options.userCalls.handle(sip);
      return;
    }
    this.#fromTrunk(sip).catch((error: unknown) => {
      // Refusals (403/404/488...) are the caller's problem, not ours: only 5xx are errors.
      const status = error instanceof ConfluxError ? error.sipStatus : 500;
      if (status < 500) this.#logger.info({ callId: sip.callId, status, reason: (error as Error).message }, 'inbound call refused');
      else this.#logger.error({ err: error, callId: sip.callId }, 'inbound call failed');
      // The standard phrase only: trunk ids and numbers stay in our logs.
      sip.reject(status);
    });
  }

  async #fromTrunk(sip: IncomingCall): Promise<void> {
    const { calls, userCalls } = this.#options;
    const refusal = calls.refusal(sip.callId);
    if (refusal) {
      sip.reject(refusal.status, refusal.reason, refusal.headers ?? {});
      return;
    }
    const facts = {
      sourceAddress: sip.source.address,
      calledNumber: calledNumberOf(sip, this.#options.contactUser),
      callerNumber: userOf(sip.remoteIdentity.uri),
    };
    const trunk = this.#dispatcher.matchTrunk(facts);
    if (!this.#trunkAuth.authorize(sip, trunk)) return;
    const toUser = this.#routes.forTrunkCall(trunk, facts.calledNumber);
    if (toUser) {
      this.#logger.info({ callId: sip.callId, trunk: trunk.id, route: toUser.route.id, user: toUser.user }, 'trunk call routed to a user');
      userCalls.fromTrunk(sip, trunk, toUser.user);
      return;
    }
    const { rule, room } = this.#dispatcher.matchRule(trunk, facts);
    // Taken: room, mixer and socket setup may take a while, the caller must not retransmit meanwhile.
    sip.trying();
    await calls.answerDispatched(sip, { trunk, rule, room, callerNumber: facts.callerNumber });
  }
}
