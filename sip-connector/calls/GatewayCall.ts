import { randomBytes } from 'node:crypto';
import { ConfluxError, UnsupportedError } from '../../server/errors.js';
import type { Logger } from '../../server/logging/Logger.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { Room } from '../../server/rooms/Room.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { ProducerAppData, TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { types } from 'mediasoup';
import type { Binding } from '../sip/RegistrarTypes.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import type { UserAgent } from '../sip/UserAgent.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import { offeredOpusPayloadType, type MediaDirection, type PhoneCodecName } from './PhoneSdp.js';
import { BrowserRing, refuseCaller } from './browserLeg.js';
import type { SipCallManager } from './SipCallManager.js';
import type { InboundTrunk } from './SipCallSchemas.js';
import type { DialHooks, DialOutResult, SipCallInfo } from './SipCallTypes.js';
import { hopsLeft } from './hopsLeft.js';
import { identitySafe } from './identitySafe.js';
import { WebRtcMediaLeg } from './WebRtcMediaLeg.js';
import { ANSWER_DIRECTION, readWebRtcSdp, type WebRtcDescription } from './WebRtcSdp.js';

/**
 * Codecs a gateway call carries end to end without transcoding. Packets are relayed as they are; only the
 * payload type is rewritten where the two sides number a codec differently (Opus is dynamic).
 */
export const GATEWAY_CODECS: readonly PhoneCodecName[] = ['PCMU', 'PCMA', 'G722', 'opus'];

/**
 * Codecs a browser in a room hears its mix-minus in, encoded by the room's mixer: the wideband G.722 first,
 * then G.711 (Opus would cost an encoder per browser).
 */
export const MIXED_BROWSER_CODECS: readonly PhoneCodecName[] = ['G722', 'PCMU', 'PCMA'];

export type GatewayCallState = 'ringing' | 'active' | 'ended';

/** What the API and logs say of a call between a browser SIP client and a registered contact. */
export interface GatewayCallInfo {
  id: string;
  from: string;
  to: string;
  state: GatewayCallState;
  /** The private two-party room anchoring the media. */
  room: string;
  /** The call to the contact (the other leg), once placed. */
  contactCallId: string | null;
  codec: string | null;
  /** The video codec, when the call carries video (browser to browser). */
  videoCodec: string | null;
  /** Where the browser transferred the phone (REFER), once the target answered. */
  transferredTo: string | null;
  endReason: string | null;
}

/** A new call's info, ringing; `room` absent: a private two-party room of its own (`gw-…`). */
export function newCallInfo(id: string, from: string, to: string, room = `gw-${randomBytes(6).toString('hex')}`): GatewayCallInfo {
  return { id, from, to, state: 'ringing', room, contactCallId: null, codec: null, videoCodec: null, transferredTo: null, endReason: null };
}

export type GatewayCallEvents = {
  ended: [info: GatewayCallInfo];
};

export interface GatewayCallContext {
  ua: UserAgent;
  rooms: RoomRegistry;
  calls: SipCallManager;
  listen: TransportListenConfig;
  logger: Logger;
  /** A phone's early media (183 with SDP) towards a calling browser: relayed (183 with SDP), or only its ringing told (180). */
  earlyMedia: 'relay' | 'ringing';
  /** The phone a transfer's Refer-To reaches (a registered user's plain-RTP binding); throws a ConfluxError saying why not. */
  transferTarget: (referTo: string) => Binding;
}

/**
 * Places the phone's side of a browser's call into the private `room`, with `codecs` (most preferred first);
 * resolves once it is answered or has failed, telling `hooks` on the way.
 */
export type PhoneDial = (room: string, codecs: PhoneCodecName[], hooks: DialHooks) => Promise<DialOutResult>;

/** Tells the side that asked for a transfer how it goes; `done` ends the implicit subscription. */
type ReferNotifier = (status: number, reason: string, done: boolean) => Promise<void>;

/** Seats of the private room: the two parties, and a transfer's target while it is being called. */
const GATEWAY_ROOM_SEATS = 3;

/** The audio producer of the phone's participant in the private room. */
function phoneAudio(room: Room, participantId: string | null): types.Producer<ProducerAppData> {
  const participant = participantId ? room.participants.find((p) => p.id === participantId) : undefined;
  const producer = participant ? [...participant.producers.values()].find((p) => p.kind === 'audio') : undefined;
  if (!producer) throw new ConfluxError('the phone has no audio in the room', 500, 500);
  return producer;
}

/**
 * A back-to-back call between a browser SIP client (WebRTC: ICE, DTLS-SRTP) and a phone (plain RTP), either
 * way round, anchored in a private two-party room: the phone is a phone leg of the room (dialled, or taken
 * in), the browser joins it with a WebRTC media leg, and the caller is answered only once the callee has.
 * Both ends share a codec, and audio is relayed untranscoded both ways: the phone's reaches the browser as
 * a consumer of its producer, the browser's reaches the phone on the relay thread all gateway calls share
 * (no mixer of the room's own). Either side hanging up ends both: one `end(reason)`.
 */
export class GatewayCall extends TypedEmitter<GatewayCallEvents> {
  readonly info: GatewayCallInfo;
  readonly #caller: IncomingCall;
  readonly #context: GatewayCallContext;
  readonly #log: Logger;
  #room: Room | null = null;
  #leg: WebRtcMediaLeg | null = null;
  /** The phone's call (SipCallManager's id): the one we dialled, or the phone calling. */
  #phoneCallId: string | null = null;
  /** Whether the phone is the callee (we dialled it) or the caller. */
  #phoneCalled = true;
  /** The INVITE to the browser, when a phone calls one. */
  #browserCall: OutgoingCall | null = null;
  /** The browsers a phone's call rings, until one answers. */
  #ring: BrowserRing<WebRtcMediaLeg> | null = null;
  /** The browser's dialog once the call is up: where the phone's keys and holds go. */
  #browserDialog: IncomingCall | OutgoingCall | null = null;
  /** telephone-event of our offer, when we called the browser (its re-offers carry it again). */
  #browserTelephoneEvent: { payloadType: number; clockRate: number } | null = null;
  /** The browser's media leg being made (for early media or the answer). */
  #connecting: Promise<WebRtcMediaLeg> | null = null;
  /** The browser's participant in the private room. */
  #browser: Participant | null = null;
  /** The call to a transfer's target (SipCallManager's id), while it rings and once it has answered. */
  #transferCallId: string | null = null;
  /** The browser has transferred the phone and left: the two phones talk. */
  #transferred = false;

  /** Read again after each await: the call may have ended meanwhile. */
  get #ended(): boolean {
    return this.info.state === 'ended';
  }

  constructor(caller: IncomingCall, from: string, to: string, context: GatewayCallContext) {
    super();
    this.#caller = caller;
    this.#context = context;
    this.info = newCallInfo(caller.callId, from, to);
    this.#log = context.logger.child({ callId: caller.callId, room: this.info.room });
  }

  /**
   * Places the phone's side for the browser's `offer` (`dial`: a registered contact, or a number through a
   * trunk), with the codecs both the browser and `allowed` have; relays ringing, and answers the browser once
   * the phone answers.
   */
  async startToPhone(dial: PhoneDial, offer: WebRtcDescription, callerName: string, allowed: readonly PhoneCodecName[] = GATEWAY_CODECS): Promise<void> {
    const caller = this.#caller;
    const codecs = offer.audio.codecs.map((codec) => codec.name).filter((name) => GATEWAY_CODECS.includes(name) && allowed.includes(name));
    if (codecs.length === 0) throw new UnsupportedError(`no codec of the browser's (${offer.audio.codecs.map((c) => c.name).join(', ')}) is carried to ${this.info.to}`);
    // The browser hangs up (CANCEL) while the contact rings, or after the answer (BYE).
    caller.once('failed', () => void this.end('cancelled'));
    caller.once('ended', (reason) => {
      if (!this.#transferred) void this.end(reason === 'remote-bye' ? 'caller-hangup' : reason);
    });
    caller.offerHandler = (sdp) => this.#onBrowserReoffer(caller, sdp);
    // The browser's numbering of Opus is the room's: what the phone sends reaches it under that payload type.
    const opus = offer.audio.codecs.find((codec) => codec.name === 'opus');
    const { room } = await this.#context.rooms.getOrCreate(this.info.room, {
      maxParticipants: GATEWAY_ROOM_SEATS, ...(opus ? { opusPayloadType: opus.payloadType } : {}),
    });
    this.#room = room;
    const earlyMedia = this.#context.earlyMedia === 'relay';
    const result = await dial(room.name, codecs, {
      started: (callId) => {
        this.info.contactCallId = callId;
        this.#phoneCallId = callId;
      },
      // A 183 reaches the browser as 180 Ringing unless its early media is relayed (then as 183 with our answer).
      ringing: () => caller.ring(),
      ...(earlyMedia ? { earlyMedia: (phone: SipCallInfo) => void this.#earlyMediaToBrowser(phone, offer, callerName) } : {}),
    });
    if (this.#ended) return;
    if (result.outcome !== 'answered') {
      const status = result.call.status ?? 480;
      caller.reject(status >= 400 && status < 700 && status !== 487 ? status : 480);
      await this.end(`callee-${result.outcome}`);
      return;
    }
    const leg = await this.#connectBrowser(result.call, offer, callerName);
    if (this.#ended) return;
    caller.answer(leg.answer());
    this.info.state = 'active';
    this.info.codec = leg.codec.name;
    this.#relayDtmf(caller);
    this.#acceptTransfers(caller);
    this.#acceptPhoneTransfers();
    this.#log.info({ codec: leg.codec.name, contactCallId: this.info.contactCallId }, 'gateway call answered');
  }

  /**
   * The browser's media leg, answering its offer and hearing the phone's producer: made once, for the phone's
   * early media or its answer, whichever comes first.
   */
  #connectBrowser(phone: SipCallInfo, offer: WebRtcDescription, callerName: string): Promise<WebRtcMediaLeg> {
    this.#connecting ??= (async () => {
      const room = this.#room!;
      const producer = phoneAudio(room, phone.participantId);
      const codec = WebRtcMediaLeg.pickCodec(offer, [phone.codec as PhoneCodecName]);
      const participant = room.join({
        identity: `sip-user-${identitySafe(this.info.from)}`, displayName: callerName, kind: 'sip',
        attributes: { 'sip.callId': this.#caller.callId, 'sip.from': this.info.from, 'sip.to': this.info.to, 'sip.direction': 'inbound', 'sip.media': 'webrtc' },
      });
      this.#browser = participant;
      const leg = await WebRtcMediaLeg.answering(participant, this.#context.listen, offer, codec);
      this.#leg = leg;
      await leg.consume(producer);
      return leg;
    })();
    return this.#connecting;
  }

  /** The phone plays early media (183 with SDP): the browser gets our answer in a 183 and hears it before the answer. */
  async #earlyMediaToBrowser(phone: SipCallInfo, offer: WebRtcDescription, callerName: string): Promise<void> {
    try {
      const leg = await this.#connectBrowser(phone, offer, callerName);
      if (this.#ended || this.info.state !== 'ringing') return;
      this.#caller.progress(leg.answer());
      this.#log.info({ codec: leg.codec.name }, 'early media relayed to the browser');
    } catch (error) {
      this.#log.warn({ err: error }, 'cannot relay early media to the browser');
    }
  }

  /**
   * The browser re-offers (hold, resume) on its `dialog`, as the caller or the callee: its direction is carried
   * to the phone by a re-INVITE first (sendonly while the browser holds: the phone stops sending, still
   * hears), then the browser is answered.
   */
  async #onBrowserReoffer(dialog: IncomingCall | OutgoingCall, sdp: string): Promise<string | undefined> {
    const leg = this.#leg;
    const phoneCallId = this.#phoneCallId;
    if (!leg || this.info.state !== 'active' || !phoneCallId) return dialog.localSdp;
    let offer: WebRtcDescription;
    try {
      offer = readWebRtcSdp(sdp);
      // Refused (488) before the phone is asked anything: a re-offer must keep the call's codec.
      leg.codecIn(offer);
    } catch {
      return undefined;
    }
    try {
      await this.#context.calls.reoffer(phoneCallId, offer.audio.direction);
    } catch (error) {
      this.#log.warn({ err: error }, 'the phone did not take the re-offer');
      return undefined;
    }
    await leg.reoffered(offer);
    this.#log.info({ direction: offer.audio.direction }, 'browser re-offer carried to the phone');
    return leg.answer();
  }

  /**
   * Takes a phone's call (plain RTP `sip.offer`: a registered phone's, or a trunk's a route sends here) to a
   * user's browsers (`bindings`, newest first): all ring, the first to answer takes the call, and the phone is
   * answered once it has.
   */
  async startToBrowser(bindings: readonly Binding[], callerName: string, trunk?: InboundTrunk): Promise<void> {
    const caller = this.#caller;
    // We offer the browser the phone's numbering of Opus, and the room's router uses it too.
    const opusPayloadType = caller.offer ? offeredOpusPayloadType(caller.offer) : null;
    const { room } = await this.#context.rooms.getOrCreate(this.info.room, {
      maxParticipants: GATEWAY_ROOM_SEATS, ...(opusPayloadType !== null ? { opusPayloadType } : {}),
    });
    this.#room = room;
    this.#phoneCallId = caller.callId;
    this.#phoneCalled = false;
    const participant = room.join({
      identity: `sip-user-${identitySafe(this.info.to)}`, displayName: this.info.to, kind: 'sip',
      attributes: { 'sip.from': this.info.from, 'sip.to': this.info.to, 'sip.direction': 'outbound', 'sip.media': 'webrtc' },
    });
    this.#browser = participant;
    const codecs = GATEWAY_CODECS.filter((name) => !trunk || (trunk.codecs as string[]).includes(name));
    if (codecs.length === 0) throw new UnsupportedError(`trunk ${trunk?.id ?? ''} allows no codec a browser shares (${GATEWAY_CODECS.join(', ')})`);
    const phone = await this.#context.calls.takeCall(caller, room.name, codecs, async (negotiated) => {
      this.#browserTelephoneEvent = negotiated.telephoneEvent ?? null;
      await this.#callBrowsers(bindings, () => WebRtcMediaLeg.offering(participant, this.#context.listen, negotiated.codec), callerName);
    }, { relay: true, ...(trunk ? { trunk } : {}) });
    const leg = this.#leg;
    if (this.#ended || !leg) return;
    await leg.consume(phoneAudio(room, phone.participantId));
    this.info.state = 'active';
    this.info.codec = phone.codec;
    if (this.#browserCall) {
      this.#relayDtmf(this.#browserCall);
      this.#acceptTransfers(this.#browserCall);
      this.#acceptPhoneTransfers();
    }
    this.#log.info({ codec: phone.codec }, 'gateway call answered');
  }

  /**
   * Rings the browsers with our WebRTC offer, each on a leg of its own; resolves once one has answered (its
   * leg is the call's from then on), rejects with the refusal the caller should hear when none does.
   */
  async #callBrowsers(bindings: readonly Binding[], openLeg: () => Promise<WebRtcMediaLeg>, callerName: string): Promise<void> {
    const ring = await BrowserRing.start(this.#context.ua, bindings, openLeg, (leg) => leg.offer(this.#browserTelephoneEvent), {
      from: this.info.from, displayName: callerName, maxForwards: hopsLeft(this.#caller), onRinging: () => this.#caller.ring(),
    });
    this.#ring = ring;
    this.info.contactCallId = ring.forks[0]?.call.callId ?? null;
    if (this.#ended) ring.abort();
    const { call: out, leg, answer } = await ring.answered;
    if (this.#ended) {
      // The caller went while the browser answered: the ring left the winner to us.
      void out.terminate();
      leg.close();
      return;
    }
    this.#browserCall = out;
    this.#leg = leg;
    this.info.contactCallId = out.callId;
    out.once('ended', () => {
      if (!this.#transferred) void this.end('callee-hangup');
    });
    out.offerHandler = (sdp) => this.#onBrowserReoffer(out, sdp);
    try {
      await leg.accept(answer);
    } catch (error) {
      if (out.state !== 'ended') void out.terminate();
      throw error;
    }
  }

  /**
   * Carries key presses across: the browser's (SIP INFO) reach the phone as RFC 4733 events, the phone's
   * (RFC 4733 or INFO, as the room's mixer and SipCallManager report them) reach the browser as INFO.
   */
  #relayDtmf(browser: IncomingCall | OutgoingCall): void {
    browser.on('dtmf', (digit) => {
      // The phone of the moment: it may have transferred the browser to another.
      const phone = this.#phoneCallId;
      if (!phone) return;
      this.#context.calls.sendDtmf(phone, digit).catch((error: unknown) => this.#log.warn({ err: error, digit }, 'cannot send DTMF to the phone'));
    });
    this.#browserDialog = browser;
  }

  /** Whether `callId` (SipCallManager's) is one of this call's phones: the one at the start, or a transfer's target. */
  ownsPhoneCall(callId: string): boolean {
    return callId === this.#phoneCallId || callId === this.#transferCallId;
  }

  /**
   * The browser may transfer the phone elsewhere (blind transfer, RFC 3515 REFER) once the call is up. One
   * transfer at a time: a REFER meanwhile is refused (501).
   */
  #acceptTransfers(browser: IncomingCall | OutgoingCall): void {
    browser.acceptsRefer = true;
    browser.on('refer', (referTo, req) => {
      browser.acceptsRefer = false;
      void this.#transfer(browser, referTo, req.cseq.seq).finally(() => {
        if (!this.#transferred && !this.#ended) browser.acceptsRefer = true;
      });
    });
  }

  /**
   * Calls the transfer's target into the private room with the phone's codec; once it answers, the browser
   * is told (NOTIFY 200), leaves the room and is hung up on, and the two phones hear each other. Until then
   * the call goes on as it was; a target that cannot be reached is told to the browser (NOTIFY with the status).
   */
  async #transfer(browser: IncomingCall | OutgoingCall, referTo: string, referCseq: number): Promise<void> {
    const notify = this.#referNotifier(browser, referCseq, 'browser');
    // The target sees the phone calling it: the phone's address-of-record is the From.
    const target = await this.#callTransferTarget(referTo, this.#phoneCalled ? this.info.to : this.info.from, notify);
    if (!target) return;
    this.#transferred = true;
    this.info.transferredTo = target.binding.contact.uri.toString();
    await notify(200, 'OK', true);
    // The browser leaves: its media first (the phones are then relayed to each other), then its dialog.
    this.#browserDialog = null;
    this.#leg?.close();
    this.#leg = null;
    this.#browser?.close('left');
    this.#browser = null;
    await browser.terminate().catch(() => undefined);
    this.#log.info({ transferredTo: this.info.transferredTo, transferCallId: this.#transferCallId }, 'phone transferred');
  }

  /** Tells a referrer how its transfer goes (NOTIFY with a sipfrag status line, RFC 3515 §2.4.5). */
  #referNotifier(referrer: IncomingCall | OutgoingCall, referCseq: number, who: string): ReferNotifier {
    return (status, reason, done) => referrer.notifyReferProgress(`SIP/2.0 ${status} ${reason}`, done, referCseq).then(() => undefined,
      (error: unknown) => this.#log.warn({ err: error }, `cannot tell the ${who} how its transfer goes`));
  }

  /**
   * What either side's blind transfer starts with: the REFER's target, a registered phone, is called into the
   * private room as `from` with the call's codec (as `#transferCallId` while it rings). Resolves with it once
   * it has answered; otherwise the referrer has been told why (404, 480, 486...) and it resolves null.
   */
  async #callTransferTarget(referTo: string, from: string, notify: ReferNotifier): Promise<{ binding: Binding; call: SipCallInfo } | null> {
    await notify(100, 'Trying', false);
    const room = this.#room;
    if (!room || this.info.state !== 'active' || !this.info.codec) {
      await notify(481, 'Call Does Not Exist', true);
      return null;
    }
    let binding: Binding;
    try {
      binding = this.#context.transferTarget(referTo);
    } catch (error) {
      const status = error instanceof ConfluxError ? error.sipStatus : 500;
      this.#log.info({ referTo, status, reason: error instanceof Error ? error.message : String(error) }, 'transfer refused');
      await notify(status, error instanceof ConfluxError && status < 500 ? error.message : 'Server Internal Error', true);
      return null;
    }
    this.#log.info({ referTo, contact: binding.contact.uri.toString() }, 'calling the transfer target');
    const result = await this.#context.calls.dialContact({
      room: room.name, target: binding.contact.uri, destination: binding.source, from, codecs: [this.info.codec as PhoneCodecName], relay: true,
    }, { started: (callId) => { this.#transferCallId = callId; } }).catch((error: unknown) => {
      this.#log.warn({ err: error, referTo }, 'cannot call the transfer target');
      return null;
    });
    if (this.#ended) return null;
    if (!result || result.outcome !== 'answered') {
      this.#transferCallId = null;
      const status = result?.call.status ?? 500;
      await notify(status >= 300 && status < 700 ? status : 480, result ? `Transfer ${result.outcome}` : 'Server Internal Error', true);
      return null;
    }
    return { binding, call: result.call };
  }

  /**
   * The phone may transfer the browser elsewhere (blind REFER) once the call is up: to another registered
   * phone, which is called with the browser's identity and the call's codec. One transfer at a time.
   */
  #acceptPhoneTransfers(): void {
    const phoneCallId = this.#phoneCallId;
    const phone = phoneCallId ? this.#context.calls.dialogOf(phoneCallId) : undefined;
    if (!phone) return;
    phone.acceptsRefer = true;
    phone.on('refer', (referTo, req) => {
      phone.acceptsRefer = false;
      void this.#transferBrowser(phone, referTo, req.cseq.seq).finally(() => {
        if (!this.#ended && this.#phoneCallId === phoneCallId) phone.acceptsRefer = true;
      });
    });
  }

  /**
   * Calls the target of the phone's REFER into the private room; once it answers, the transferring phone is
   * told (NOTIFY 200) and hung up on, the browser hears the new phone (a re-INVITE gives it the new stream)
   * and the new phone hears the browser. Until then the call goes on as it was.
   */
  async #transferBrowser(phone: IncomingCall | OutgoingCall, referTo: string, referCseq: number): Promise<void> {
    const notify = this.#referNotifier(phone, referCseq, 'phone');
    const oldPhone = this.#phoneCallId;
    const target = await this.#callTransferTarget(referTo, this.#phoneCalled ? this.info.from : this.info.to, notify);
    const room = this.#room;
    const leg = this.#leg;
    if (!target || !room || !leg || !oldPhone) return;
    // The new phone is the call's phone from here on: the old one's end no longer concerns this call.
    this.#transferCallId = null;
    this.#phoneCallId = target.call.id;
    if (this.#phoneCalled) this.info.contactCallId = target.call.id;
    this.#phoneCalled = true;
    this.info.transferredTo = target.binding.contact.uri.toString();
    await notify(200, 'OK', true);
    await this.#context.calls.hangup(oldPhone).catch(() => undefined);
    // The browser hears the new phone: a consumer of its producer, announced by a re-offer (its new SSRC).
    await leg.consume(phoneAudio(room, target.call.participantId));
    const browser = this.#browserDialog;
    if (browser && !this.#ended) {
      await leg.renegotiate(browser, 'sendrecv', this.#browserTelephoneEvent).catch((error: unknown) => this.#log.warn({ err: error }, 'the browser did not take the new phone\'s stream'));
    }
    this.#acceptPhoneTransfers();
    this.#log.info({ transferredTo: this.info.transferredTo, phoneCallId: this.#phoneCallId }, 'browser transferred to another phone');
  }

  /** A phone pressed a key (told by the owner, which watches SipCallManager once for every call): to the browser, or after a transfer to the other phone. */
  phoneDtmf(callId: string, digit: string): void {
    if (this.#ended) return;
    if (this.#transferred) {
      const other = callId === this.#phoneCallId ? this.#transferCallId : this.#phoneCallId;
      if (other) this.#context.calls.sendDtmf(other, digit).catch((error: unknown) => this.#log.warn({ err: error, digit }, 'cannot send DTMF to the phone'));
      return;
    }
    if (callId !== this.#phoneCallId || !this.#browserDialog) return;
    this.#browserDialog.sendDtmfInfo(digit).catch((error: unknown) => this.#log.warn({ err: error, digit }, 'cannot send DTMF to the browser'));
  }

  /**
   * The phone held or resumed (re-INVITE): carried to the browser by a re-INVITE of ours, with the direction
   * that mirrors ours towards the phone (the phone holds: we only send to the browser, and it answers recvonly).
   */
  phoneReoffered(callId: string, towardPhone: MediaDirection): void {
    const browser = this.#browserDialog;
    const leg = this.#leg;
    if (this.#ended || this.#transferred || callId !== this.#phoneCallId || !browser || !leg) return;
    const direction = ANSWER_DIRECTION[towardPhone];
    leg.renegotiate(browser, direction, this.#browserTelephoneEvent).then(() => this.#log.info({ direction }, 'phone hold carried to the browser'),
      (error: unknown) => this.#log.warn({ err: error, direction }, 'the browser did not take the phone\'s hold'));
  }

  /** A phone's call ended: so does this one (but a transfer's target that never answered only fails the transfer). */
  phoneEnded(call: SipCallInfo): void {
    if (call.id === this.#transferCallId && !this.#transferred) return;
    const side = call.id === this.#transferCallId ? 'transfer-target' : this.#phoneCalled ? 'callee' : 'caller';
    void this.end(call.endReason === 'remote-hangup' ? `${side}-hangup` : `${side}-${call.endReason ?? 'ended'}`);
  }

  /** Refuses the browser's call (before it is answered) with `error`'s status and a Warning saying why. */
  refuse(error: unknown): void {
    refuseCaller(this.#caller, error);
  }

  /** Ends both legs and the private room; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.info.state === 'ended') return;
    this.info.state = 'ended';
    this.info.endReason = reason;
    this.#log.info({ reason }, 'gateway call ended');
    if (this.#caller.state !== 'ended') await this.#caller.terminate(reason === 'shutdown' ? 503 : 480).catch(() => undefined);
    this.#ring?.abort();
    if (this.#browserCall && this.#browserCall.state !== 'ended') await this.#browserCall.terminate().catch(() => undefined);
    this.#leg?.close();
    this.#leg = null;
    // Closing the room ends the contact's leg too (BYE, or CANCEL while it rings).
    if (this.#room && !this.#room.closed) this.#room.close('room-closed');
    else if (this.info.contactCallId) await this.#context.calls.hangup(this.info.contactCallId).catch(() => undefined);
    this.safeEmit('ended', { ...this.info });
  }
}
