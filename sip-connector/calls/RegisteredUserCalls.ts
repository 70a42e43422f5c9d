import { BadRequestError, ConfluxError, ForbiddenError, NotFoundError, UnsupportedError } from '../../server/errors.js';
import { createLogger, type Logger } from '../../server/logging/Logger.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import { NameAddr } from '../sip/NameAddr.js';
import type { Binding } from '../sip/RegistrarTypes.js';
import type { SipUri } from '../sip/SipUri.js';
import type { Registrar } from '../sip/Registrar.js';
import type { UserAgent } from '../sip/UserAgent.js';
import { warningValue } from '../sip/SipResponse.js';
import { registeredPhone } from './registeredPhone.js';
import { BrowserBridgeCall } from './BrowserBridgeCall.js';
import { refuseCaller } from './browserLeg.js';
import { BrowserRoomCall } from './BrowserRoomCall.js';
import { CallDispatcher } from './CallDispatcher.js';
import { CallRoutes, type TrunkRouting } from './CallRoutes.js';
import { GATEWAY_CODECS, GatewayCall, type GatewayCallInfo, type PhoneDial } from './GatewayCall.js';
import { PhoneBridgeCall } from './PhoneBridgeCall.js';
import { hopsLeft } from './hopsLeft.js';
import { identitySafe } from './identitySafe.js';
import type { PhoneCodecName } from './PhoneSdp.js';
import type { DispatchRule, InboundTrunk } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';
import type { SipCallManager } from './SipCallManager.js';
import { isWebRtcSdp, readWebRtcSdp, type WebRtcDescription } from './WebRtcSdp.js';

export interface RegisteredUserCallsOptions {
  ua: UserAgent;
  registrar: Registrar;
  rooms: RoomRegistry;
  calls: SipCallManager;
  listen: TransportListenConfig;
  /** Where routes come from. */
  store: SipConfigStore;
  /** What a browser hears of a phone's early media: see GatewayCallContext.earlyMedia. */
  browserEarlyMedia?: 'relay' | 'ringing';
}

/** A call between a registered user and its other party: browser ↔ phone, phone ↔ phone, browser ↔ browser, or a browser in a room. */
type BridgedCall = GatewayCall | PhoneBridgeCall | BrowserBridgeCall | BrowserRoomCall;

/** A call and its start; no call entity when SipCallManager owns the call (a phone into a room). */
interface Started {
  call: BridgedCall | null;
  started: Promise<void>;
}

const isBrowser = (binding: Binding): boolean => binding.source.transport === 'ws' || binding.source.transport === 'wss';

/** Refused: the callee is a user of ours but is not registered anywhere (480 in SIP). */
class UnavailableError extends ConfluxError {
  constructor(message: string) { super(message, 404, 480); }
}

/**
 * Calls placed by the registrar's own users (SIP-over-WebSocket browser clients, registered phones). Such a
 * caller is authenticated by digest (407), never by the address it comes from: a WebSocket flow is always a
 * user, never a trusted trunk. The Request-URI's user is looked up in the registrar: a registered user is
 * called on its bindings (480 offline); a number that is no user goes out through the first `user-to-trunk`
 * route that takes it, else into the room of a dispatch rule naming no trunk (404 when none does). Calls
 * from trunks that a `trunk-to-user` route sends to a user come here too (`fromTrunk`).
 */
export class RegisteredUserCalls {
  readonly #options: RegisteredUserCallsOptions;
  readonly #calls = new Map<string, BridgedCall>();
  readonly #logger: Logger = createLogger('user-calls');
  readonly #routes: CallRoutes;
  readonly #dispatcher: CallDispatcher;

  constructor(options: RegisteredUserCallsOptions) {
    this.#options = options;
    this.#routes = new CallRoutes(options.store);
    this.#dispatcher = new CallDispatcher(options.store);
    // One listener for every gateway call: a phone's end and key presses go to the call that owns it.
    options.calls.on('call.ended', (info) => this.#byPhoneCall(info.id)?.phoneEnded(info));
    options.calls.on('call.dtmf', (info, digit) => this.#byPhoneCall(info.id)?.phoneDtmf(info.id, digit));
    options.calls.on('call.reoffered', (info, direction) => this.#byPhoneCall(info.id)?.phoneReoffered(info.id, direction));
    // The first registration means gateway calls may come: their shared relay thread starts now, not in a call's setup.
    options.registrar.once('registered', () => options.calls.warmRelay());
  }

  /** The call whose phone SipCallManager's `callId` is: only calls with a phone on a side have one. */
  #byPhoneCall(callId: string): GatewayCall | PhoneBridgeCall | undefined {
    for (const call of this.#calls.values()) if ('ownsPhoneCall' in call && call.ownsPhoneCall(callId)) return call;
    return undefined;
  }

  /** Whether the INVITE is a registered user's: it came over a WebSocket, or its From is a user of our domain. */
  claims(sip: IncomingCall): boolean {
    if (sip.source.transport === 'ws' || sip.source.transport === 'wss') return true;
    const from = sip.remoteIdentity.uri;
    return this.#options.registrar.isLocalDomain(from.host) && from.user !== undefined && this.#options.registrar.hasUser(from.user);
  }

  /** Calls in progress. */
  list(): GatewayCallInfo[] {
    return [...this.#calls.values()].map((call) => ({ ...call.info }));
  }

  /**
   * Authenticates the caller and starts the call: to the called user when it is one of ours, else out through
   * the first route that takes the number, else into a dispatch rule's room. Every refusal says why.
   */
  handle(sip: IncomingCall): void {
    const { registrar } = this.#options;
    const log = this.#logger.child({ callId: sip.callId });
    const verdict = registrar.authenticate(sip.invite, sip.source, 'Proxy-Authorization');
    if (!verdict.ok) {
      if (verdict.reason === 'blocked') sip.reject(403, 'Forbidden', { Warning: warningValue('Too many failed authentications') });
      else sip.reject(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': registrar.challenges(sip.source, verdict.stale) });
      return;
    }
    sip.trying();
    const user = verdict.username;
    const domain = registrar.domain;
    this.#starting(sip, log, () => {
      const fromUri = sip.remoteIdentity.uri;
      if (fromUri.user !== user || !registrar.isLocalDomain(fromUri.host)) throw new ForbiddenError(`From is not sip:${user}@${domain}`);
      const offer = sip.offer;
      if (!offer) throw new UnsupportedError('an SDP offer is required');
      // A browser calls with WebRTC (to a phone); a phone with plain RTP (to a browser, or another phone).
      const webrtc = isWebRtcSdp(offer) ? readWebRtcSdp(offer) : null;
      const target = sip.invite.uri.user;
      const callerName = sip.remoteIdentity.displayName || user;
      if (target && !registrar.hasUser(target)) {
        const routing = this.#routes.forUserCall(user, target);
        if (routing) return this.#toTrunk(sip, user, callerName, webrtc, routing, log);
        const dispatched = this.#intoRoom(sip, user, target, callerName, webrtc, log);
        if (dispatched) return dispatched;
      }
      if (!target || !registrar.hasUser(target)) throw new NotFoundError(`no user or route for ${target ?? '(none)'} here`);
      const bindings = registrar.lookup(target).sort((a, b) => b.expiresAt - a.expiresAt);
      const from = `sip:${user}@${domain}`;
      const to = `sip:${target}@${domain}`;
      if (webrtc) {
        // A browser calls the user's phone when it has one, else every browser it registered from (they ring together).
        const phone = bindings.find((binding) => !isBrowser(binding));
        if (!phone) {
          if (bindings.length === 0) throw new UnavailableError(`${target} is not registered`);
          const call = this.#track(sip, new BrowserBridgeCall(sip, from, to, {
            ua: this.#options.ua, rooms: this.#options.rooms, listen: this.#options.listen, logger: log,
          }));
          log.info({ from: user, to: target, contacts: bindings.map((b) => b.contact.uri.toString()), webrtc: true }, 'browser-to-browser call');
          return { call, started: call.start(bindings, webrtc, callerName) };
        }
        const call = this.#newGatewayCall(sip, from, to, log);
        log.info({ from: user, to: target, contact: phone.contact.uri.toString(), webrtc: true }, 'user call');
        return { call, started: call.startToPhone(this.#dialBinding(sip, phone, from, callerName), webrtc, callerName) };
      }
      return this.#phoneToUser(sip, from, target, bindings, callerName, log);
    });
  }

  /**
   * A phone's call (a registered phone's, or a trunk's a route sends here) to registered user `target`: to
   * every browser it registered from (they ring together), else to its newest phone binding; 480 when it has none.
   */
  #phoneToUser(sip: IncomingCall, from: string, target: string, bindings: Binding[], callerName: string, log: Logger, trunk?: InboundTrunk): Started {
    const to = `sip:${target}@${this.#options.registrar.domain}`;
    const browsers = bindings.filter(isBrowser);
    const binding = browsers[0] ?? bindings[0];
    if (!binding) throw new UnavailableError(`${target} is not registered`);
    log.info({ from, to: target, contacts: (browsers.length > 0 ? browsers : [binding]).map((b) => b.contact.uri.toString()),
      browser: browsers.length > 0 }, 'phone call to a user');
    if (browsers.length > 0) {
      const call = this.#newGatewayCall(sip, from, to, log);
      return { call, started: call.startToBrowser(browsers, callerName, trunk) };
    }
    const call = this.#newPhoneCall(sip, from, to, log);
    return { call, started: call.start(this.#dialBinding(sip, binding, from, callerName), trunk) };
  }

  /** Dials a registered contact where it registered from, into the call's private room, relayed: the other leg of `sip`. */
  #dialBinding(sip: IncomingCall, binding: Binding, from: string, callerName: string): PhoneDial {
    return (room, codecs, hooks) => this.#options.calls.dialContact({
      room, target: binding.contact.uri, destination: binding.source, from, displayName: callerName, codecs, relay: true,
      maxForwards: hopsLeft(sip),
    }, hooks);
  }

  /**
   * A registered user's call that no user or route takes, into the room of the first dispatch rule naming no
   * trunk that takes the number: a browser joins with WebRTC and hears the room's mix-minus, a phone joins
   * as a phone leg. Undefined when no rule takes it.
   */
  #intoRoom(sip: IncomingCall, user: string, dialled: string, callerName: string, offer: WebRtcDescription | null, log: Logger): Started | undefined {
    let dispatched: { rule: DispatchRule; room: string };
    try {
      dispatched = this.#dispatcher.matchRule(null, { sourceAddress: sip.source.address, calledNumber: dialled, callerNumber: user });
    } catch {
      return undefined;
    }
    if (dispatched.rule.pin && offer) {
      throw new UnsupportedError(`room ${dispatched.room} asks for a PIN: a browser SIP client cannot enter one yet (phones can)`);
    }
    const from = `sip:${user}@${this.#options.registrar.domain}`;
    log.info({ from: user, room: dispatched.room, rule: dispatched.rule.id, webrtc: offer !== null }, 'user call into a room');
    if (!offer) {
      // A phone is answered, asked for the room's PIN (when it has one) and admitted once it keys it, as a trunk's caller is.
      const room = dispatched.room;
      return {
        call: null,
        started: this.#options.calls.takeCall(sip, room, [...GATEWAY_CODECS], async () => undefined, { rule: dispatched.rule }).then(() => undefined),
      };
    }
    const call = this.#track(sip, new BrowserRoomCall(sip, from, dispatched.room, {
      rooms: this.#options.rooms, calls: this.#options.calls, listen: this.#options.listen, logger: log,
    }));
    return { call, started: call.start(offer, user, callerName) };
  }

  /** A registered user's call to a number a route sends out through an outbound trunk. */
  #toTrunk(sip: IncomingCall, user: string, callerName: string, offer: WebRtcDescription | null, routing: TrunkRouting, log: Logger): Started {
    const { trunk, route, number } = routing;
    const from = `sip:${user}@${this.#options.registrar.domain}`;
    const to = `sip:${number}@${trunk.host}`;
    log.info({ from: user, number, route: route.id, trunk: trunk.id, webrtc: offer !== null }, 'user call routed to a trunk');
    const dial: PhoneDial = (room, codecs, hooks) => this.#options.calls.dialTrunk({
      room, trunk, to: number, codecs, relay: true, displayName: callerName, ...(route.callerId === 'user' ? { callerUser: user } : {}),
      maxForwards: hopsLeft(sip),
    }, hooks);
    if (!offer) {
      const call = this.#newPhoneCall(sip, from, to, log);
      // The phone's codec must be one the trunk takes: the trunk's codecs bound what the phone is answered with.
      return { call, started: call.start(dial, undefined, trunk.codecs as PhoneCodecName[]) };
    }
    const call = this.#newGatewayCall(sip, from, to, log);
    return { call, started: call.startToPhone(dial, offer, callerName, trunk.codecs as PhoneCodecName[]) };
  }

  /**
   * A trunk's call that a route sends to registered `user` (InboundRouter has matched and authenticated the
   * trunk): to the browser the user registered from, else its phone; 404 for no such user, 480 when it is not registered.
   */
  fromTrunk(sip: IncomingCall, trunk: InboundTrunk, user: string): void {
    const { registrar } = this.#options;
    const log = this.#logger.child({ callId: sip.callId, trunk: trunk.id });
    sip.trying();
    this.#starting(sip, log, () => {
      if (!registrar.hasUser(user)) throw new NotFoundError(`no user ${user} here`);
      if (!sip.offer) throw new UnsupportedError('an SDP offer is required');
      const bindings = registrar.lookup(user).sort((a, b) => b.expiresAt - a.expiresAt);
      const caller = sip.remoteIdentity.uri.user ?? 'anonymous';
      return this.#phoneToUser(sip, `sip:${identitySafe(caller)}@${registrar.domain}`, user, bindings, sip.remoteIdentity.displayName || caller, log, trunk);
    });
  }

  #newGatewayCall(sip: IncomingCall, from: string, to: string, log: Logger): GatewayCall {
    return this.#track(sip, new GatewayCall(sip, from, to, {
      ua: this.#options.ua, rooms: this.#options.rooms, calls: this.#options.calls, listen: this.#options.listen, logger: log,
      earlyMedia: this.#options.browserEarlyMedia ?? 'relay', transferTarget: (referTo) => this.#transferTarget(referTo),
    }));
  }

  #newPhoneCall(sip: IncomingCall, from: string, to: string, log: Logger): PhoneBridgeCall {
    return this.#track(sip, new PhoneBridgeCall(sip, from, to, { rooms: this.#options.rooms, calls: this.#options.calls, logger: log }));
  }

  #track<C extends BridgedCall>(sip: IncomingCall, call: C): C {
    this.#calls.set(sip.callId, call);
    call.once('ended', () => this.#calls.delete(sip.callId));
    return call;
  }

  /** Runs `start`; a refusal it throws answers the INVITE with its status (and a Warning saying why), a failure later ends the call. */
  #starting(sip: IncomingCall, log: Logger, start: () => Started): void {
    try {
      const begun = start();
      begun.started.catch((error: unknown) => {
        // A callee's own refusal (busy, declined, offline) is an outcome, not a fault: no stack for it.
        if (error instanceof ConfluxError && error.sipStatus < 500) log.info({ status: error.sipStatus, reason: error.message }, 'gateway call refused');
        else log.warn({ err: error }, 'gateway call failed');
        if (!begun.call) {
          sip.reject(error instanceof ConfluxError ? error.sipStatus : 500);
          return;
        }
        begun.call.refuse(error);
        void begun.call.end('failed');
      });
    } catch (error) {
      const status = error instanceof ConfluxError ? error.sipStatus : 500;
      if (status >= 500) log.error({ err: error }, 'user call failed');
      else log.info({ status, reason: error instanceof Error ? error.message : String(error) }, 'user call refused');
      refuseCaller(sip, error);
    }
  }

  /**
   * The phone a blind transfer's Refer-To reaches: a user of this domain, on its newest plain-RTP binding.
   * Refused: not a SIP URI (400), an attended transfer (`Replaces`, 501), unknown (404), offline (480), or
   * registered from WebRTC clients only (488).
   */
  #transferTarget(referTo: string): Binding {
    let uri: SipUri;
    try {
      uri = NameAddr.parse(referTo).uri;
    } catch {
      throw new BadRequestError('Refer-To is not a SIP URI');
    }
    if ([...uri.headers.keys()].some((name) => name.toLowerCase() === 'replaces')) {
      throw new ConfluxError('attended transfer (Replaces) is not supported', 501, 501);
    }
    return registeredPhone(this.#options.registrar, uri, 'a transfer');
  }

  /** Ends every call (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#calls.values()].map((call) => call.end('shutdown')));
  }
}
