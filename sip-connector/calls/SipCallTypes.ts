import type { SipUri } from '../sip/SipUri.js';
import type { Destination } from '../sip/TransportTypes.js';
import type { MediaDirection, PhoneCodecName } from './PhoneSdp.js';
import type { OutboundTrunk } from './SipCallSchemas.js';

/** What the API and events say about a phone call. */
export type SipCallDirection = 'inbound' | 'outbound';
export type SipCallState = 'ringing' | 'pin' | 'active' | 'ended';
/** How a dial-out ended up. */
export type DialOutcome = 'answered' | 'busy' | 'no-answer' | 'rejected' | 'failed';

export interface SipCallInfo {
  /** The SIP Call-ID. */
  id: string;
  direction: SipCallDirection;
  room: string;
  trunkId: string | null;
  ruleId: string | null;
  from: string;
  to: string;
  state: SipCallState;
  participantId: string | null;
  codec: string | null;
  onHold: boolean;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** Why it ended: caller-hangup, kicked, media-timeout, pin-failed, busy, ... */
  endReason: string | null;
  /** The final SIP status of a call that never connected. */
  status: number | null;
  /** Its reason phrase, or why the INVITE could not be sent (e.g. `dns: sip.example.net not found (ENOTFOUND)`). */
  reason: string | null;
}

export type SipCallManagerEvents = {
  'call.ringing': [call: SipCallInfo];
  'call.answered': [call: SipCallInfo];
  'call.ended': [call: SipCallInfo];
  'call.dtmf': [call: SipCallInfo, digit: string];
  /** The phone re-offered (hold, resume): `direction` is ours towards it now. */
  'call.reoffered': [call: SipCallInfo, direction: MediaDirection];
};

export interface DialOutRequest {
  room: string;
  /** Absent: `to` names a user of this server's registrar, called where it registered from. */
  trunkId?: string | undefined;
  /** A number (sent to the trunk's host) or a full sip:/sips: URI. */
  to: string;
  displayName?: string;
  /** Give up (CANCEL) after this long without an answer. */
  ringTimeoutSeconds?: number;
}

/** A call to a registered contact rather than through a trunk. */
export interface ContactDialRequest {
  room: string;
  /** The binding's Contact. */
  target: SipUri;
  /** The flow the contact registered from: requests to it go there (NAT, TCP, WebSocket). */
  destination?: Destination;
  /** The From of the INVITE: the calling user's address-of-record. */
  from: string;
  displayName?: string;
  /** Codecs offered, most preferred first. */
  codecs: PhoneCodecName[];
  ringTimeoutSeconds?: number;
  /**
   * The room is a two-party call whose other party shares the phone's codec: its audio is relayed both ways
   * untranscoded, on a thread all such calls share, instead of a mixer thread of the room's own.
   */
  relay?: boolean;
  /** Max-Forwards of the INVITE: the incoming leg's less one when this leg continues a call (see InviteOptions). */
  maxForwards?: number;
}

/** A call through an outbound trunk: a REST dial-out, or a registered user's call a route sends out. */
export interface TrunkDialRequest {
  room: string;
  trunk: OutboundTrunk;
  /** A number (sent to the trunk's host) or a full sip:/sips: URI. */
  to: string;
  /** The From's user: the calling user's name; absent, the trunk's `fromNumber`. */
  callerUser?: string;
  displayName?: string;
  /** Codecs offered, most preferred first; absent, the trunk's. */
  codecs?: PhoneCodecName[];
  ringTimeoutSeconds?: number;
  /** As for ContactDialRequest. */
  relay?: boolean;
  maxForwards?: number;
}

/** What a dialler hears of a call it places, before the outcome. */
export interface DialHooks {
  /** The call's id, at once (so that a call still ringing can be hung up). */
  started?: (callId: string) => void;
  /** The first 180 or 183. */
  ringing?: () => void;
  /**
   * Asks for early media: a 183 with SDP puts the phone in the room before the answer (still `ringing`), and
   * this hears of it once its audio is there.
   */
  earlyMedia?: (call: SipCallInfo) => void;
}

export interface DialOutResult {
  call: SipCallInfo;
  outcome: DialOutcome;
}
