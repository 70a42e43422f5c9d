import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import type { Destination } from './TransportTypes.js';
import type { DigestCredentials } from './DigestAuth.js';

export type CallState = 'calling' | 'early' | 'confirmed' | 'ended';

/** Why a call ended. */
export type CallEndReason = 'local-bye' | 'remote-bye' | 'cancelled' | 'rejected' | 'failed' | 'no-ack' | 'session-expired' | 'shutdown';

/** Events of both call directions. */
export type CallEvents = {
  /** A provisional response arrived (outgoing) or was sent (incoming). */
  provisional: [status: number, reason: string];
  /** SDP in a reliable or unreliable provisional response (outgoing calls). */
  earlyMedia: [sdp: string];
  /** The call was answered; `sdp` is the remote answer (outgoing) or the local answer (incoming). */
  answered: [sdp: string];
  /** The ACK for our 2xx arrived (incoming calls). */
  confirmed: [];
  /** The call did not establish. */
  failed: [status: number, reason: string];
  /** An established call ended. */
  ended: [reason: CallEndReason];
  /** The remote side changed its session description (re-INVITE or UPDATE). */
  remoteSdp: [sdp: string];
  /** DTMF received through SIP INFO (application/dtmf-relay or application/dtmf). */
  dtmf: [digit: string, durationMs: number];
  /** An INFO other than DTMF. */
  info: [contentType: string | undefined, body: string];
  /** The peer asks us to call `referTo` (RFC 3515); the REFER was accepted with 202 (only with `acceptsRefer`). */
  refer: [referTo: string, req: SipRequest];
  /** A NOTIFY arrived in the dialog (e.g. REFER progress as message/sipfrag). */
  notify: [event: string | undefined, body: string];
  /** The session timer refreshed the session. */
  refreshed: [];
};

/** Options of `UserAgent.sendInvite`. */
export interface InviteOptions {
  /** From URI (default `sip:<userName>@<domain or host>`). */
  from?: string;
  displayName?: string;
  /** Extra headers for the INVITE. */
  headers?: Record<string, string>;
  /** Send CANCEL when not answered within this time. */
  noAnswerTimeoutMs?: number;
  /** Session-Expires to ask for (RFC 4028), overrides the UA default. */
  sessionExpiresSec?: number;
  /** Force the first hop (e.g. a registered WebSocket client's flow). */
  destination?: Destination;
  /** Credentials for this call's 401/407 challenges (a trunk's), instead of the UA's. */
  credentials?: DigestCredentials[];
  /**
   * Max-Forwards of the INVITE; 70 by default. A B2BUA's outgoing leg carries the incoming leg's, less one,
   * so that a call routed back to where it came from dies out (483) instead of looping.
   */
  maxForwards?: number;
}

/** Result of an in-dialog offer/answer exchange started locally. */
export interface OfferResult {
  status: number;
  sdp?: string;
  response?: SipResponse;
}
