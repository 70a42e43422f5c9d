import type { DigestCredentials } from './DigestAuth.js';
import type { IncomingCall } from './IncomingCall.js';
import type { SipLogger } from './Logger.js';
import type { Registrar } from './Registrar.js';
import type { SipRequest } from './SipRequest.js';
import type { MessageSource } from './TransportTypes.js';

export interface UserAgentOptions {
  logger: SipLogger;
  /** User part of our Contact and default From (default `conflux`). */
  userName?: string;
  /** Host part of the default From (default: the advertised address). */
  domain?: string;
  /** Sent in User-Agent and Server headers. */
  productName?: string;
  /** Credentials used to answer 401/407 on outgoing requests. */
  credentials?: DigestCredentials[];
  /** Serves REGISTER for its domain when set. */
  registrar?: Registrar;
  /** Session-Expires to request on outgoing INVITEs (RFC 4028); 0 or absent: only honour the peer's. */
  sessionExpiresSec?: number;
  /** Smallest session interval accepted (default 90, the RFC 4028 minimum). */
  minSessionExpiresSec?: number;
}

/** Handler for a new incoming call. */
export type InviteHandler = (call: IncomingCall) => void;

export type UserAgentEvents = {
  /** A request outside any dialog that the UA does not handle itself (MESSAGE, SUBSCRIBE...). Answered 405 if unhandled. */
  request: [req: SipRequest, source: MessageSource, respond: (status: number, reason?: string) => void];
};
