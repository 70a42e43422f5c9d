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
import { GatewayCall, type GatewayCallInfo } from './GatewayCall.js';
import type { SipCallManager } from './SipCallManager.js';
import { isWebRtcSdp, readWebRtcSdp } from './WebRtcSdp.js';

export interface RegisteredUserCallsOptions {
  ua: UserAgent;
  registrar: Registrar;
  rooms: RoomRegistry;
  calls: SipCallManager;
  listen: TransportListenConfig;
}

/** Refused: the callee is a user of ours but is not registered anywhere (480 in SIP). */
class UnavailableError extends ConfluxError {
  constructor(message: string) { super(message, 404, 480); }
}

/**
 * Calls placed by the registrar's own users (SIP-over-WebSocket browser clients, registered phones). Such a
 * caller is authenticated by digest (407), never by the address it comes from: a WebSocket flow is always a
 * user, never a trusted trunk. The Request-URI's user is looked up in the registrar: a registered user is
 * called on its bindings (404 unknown, 480 offline). Calls not from a user go on to the trunks and rooms.
 */
export class RegisteredUserCalls {
  readonly #options: RegisteredUserCallsOptions;
  readonly #calls = new Map<string, GatewayCall>();
  readonly #logger: Logger = createLogger('user-calls');

  constructor(options: RegisteredUserCallsOptions) {
    this.#options = options;
    // One listener for every gateway call: a phone's end and key presses go to the call that owns it.
    options.calls.on('call.ended', (info) => this.#byPhoneCall(info.id)?.phoneEnded(info));
    options.calls.on('call.dtmf', (info, digit) => this.#byPhoneCall(info.id)?.phoneDtmf(info.id, digit));
    options.calls.on('call.reoffered', (info, direction) => this.#byPhoneCall(info.id)?.phoneReoffered(info.id, direction));
    // The first registration means gateway calls may come: their shared relay thread starts now, not in a call's setup.
    options.registrar.once('registered', () => options.calls.warmRelay());
  }

  #byPhoneCall(callId: string): GatewayCall | undefined {
    for (const call of this.#calls.values()) if (call.ownsPhoneCall(callId)) return call;
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

  /** Authenticates the caller, finds the callee and starts the call; every refusal says why. */
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
    try {
      const from = sip.remoteIdentity.uri;
      if (from.user !== user || !registrar.isLocalDomain(from.host)) throw new ForbiddenError(`From is not sip:${user}@${domain}`);
      const offer = sip.offer;
      if (!offer) throw new UnsupportedError('an SDP offer is required');
      // A browser calls with WebRTC; a phone with plain RTP, to a browser (a WebSocket binding).
      const webrtc = isWebRtcSdp(offer) ? readWebRtcSdp(offer) : null;
      const target = sip.invite.uri.user;
      if (!target || !registrar.hasUser(target)) throw new NotFoundError(`no user ${target ?? '(none)'} here`);
      const bindings = registrar.lookup(target).sort((a, b) => b.expiresAt - a.expiresAt);
      const binding = webrtc ? bindings[0] : bindings.find((b) => b.source.transport === 'ws' || b.source.transport === 'wss');
      if (!binding) {
        if (bindings.length > 0) throw new UnsupportedError(`${target} is not on a WebRTC client: phone-to-phone calls are not carried yet`);
        throw new UnavailableError(`${target} is not registered`);
      }
      const started = new GatewayCall(sip, `sip:${user}@${domain}`, `sip:${target}@${domain}`, {
        ua: this.#options.ua, rooms: this.#options.rooms, calls: this.#options.calls, listen: this.#options.listen, logger: log,
        transferTarget: (referTo) => this.#transferTarget(referTo),
      });
      this.#calls.set(sip.callId, started);
      started.once('ended', () => this.#calls.delete(sip.callId));
      const callerName = sip.remoteIdentity.displayName || user;
      log.info({ from: user, to: target, contact: binding.contact.uri.toString(), webrtc: webrtc !== null }, 'user call');
      const starting = webrtc ? started.startToPhone(binding, webrtc, callerName) : started.startToBrowser(binding, callerName);
      starting.catch((error: unknown) => {
        log.warn({ err: error }, 'gateway call failed');
        started.refuse(error);
        void started.end('failed');
      });
    } catch (error) {
      const status = error instanceof ConfluxError ? error.sipStatus : 500;
      if (status >= 500) log.error({ err: error }, 'user call failed');
      else log.info({ status, reason: error instanceof Error ? error.message : String(error) }, 'user call refused');
      sip.reject(status, undefined, error instanceof ConfluxError && status < 500 ? { Warning: warningValue(error.message) } : {});
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
