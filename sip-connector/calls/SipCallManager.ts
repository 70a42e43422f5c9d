import { randomBytes, randomInt } from 'node:crypto';
import { ConfluxError, BadRequestError, CapacityError, InvalidStateError, NotFoundError, UnsupportedError } from '../../server/errors.js';
import { createLogger, type Logger } from '../../server/logging/Logger.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { Room } from '../../server/rooms/Room.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { RemovalReason, RoomSeat } from '../../server/rooms/RoomTypes.js';
import { SRTP_KEY_MATERIAL_LENGTH } from '../media/SrtpContext.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import { SipUri } from '../sip/SipUri.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import type { UserAgent } from '../sip/UserAgent.js';
import {
  buildAnswer, buildReoffer, createOffer, negotiateOffer, newOfferCrypto, readAnswer, type MediaDirection, type NegotiatedAudio,
  type PhoneCodecName,
} from './PhoneSdp.js';
import { PromptLibrary, type PromptName } from './PromptLibrary.js';
import { identitySafe } from './identitySafe.js';
import { registeredPhone } from './registeredPhone.js';
import { MixerThreadPool } from './MixerThreadPool.js';
import { RoomAudioBridge } from './RoomAudioBridge.js';
import type { MixerThread } from '../media/MixerThread.js';
import type { DispatchRule, InboundTrunk, OutboundTrunk } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';
import type {
  ContactDialRequest, DialHooks, DialOutcome, DialOutRequest, DialOutResult, SipCallInfo, SipCallManagerEvents, TrunkDialRequest,
} from './SipCallTypes.js';
import type { MediaEncryption } from './PhoneSdp.js';
import type { DigestCredentials } from '../sip/DigestAuth.js';

/** Where an inbound call goes and on what terms. */
interface InboundPlan {
  room: string;
  codecs: PhoneCodecName[];
  mediaEncryption: MediaEncryption;
  trunkId: string | null;
  rule: DispatchRule | null;
  callerNumber: string;
  /** The room is a two-party call whose audio is relayed untranscoded (see ContactDialRequest.relay). */
  relay?: boolean;
}

/** What a taken call waits for before its answer; `early` gives the phone early media meanwhile (see takeCall). */
type AnswerWhen = (negotiated: NegotiatedAudio, early: () => Promise<void>) => Promise<void>;

/** A call we place, through a trunk or to a registered contact. */
interface PlacedCall extends ContactDialRequest {
  trunkId: string | null;
  mediaEncryption: MediaEncryption;
  credentials?: DigestCredentials;
}

export interface SipCallManagerOptions {
  ua: UserAgent;
  rooms: RoomRegistry;
  store: SipConfigStore;
  /** Interface phone RTP sockets bind on. */
  mediaListenIp: string;
  /** Address our SDP gives phones. */
  mediaAnnouncedAddress: string;
  /** No RTP from a phone for this long ends the call. */
  mediaTimeoutSeconds?: number;
  /** A caller who has not entered the right PIN by then is hung up on. */
  pinTimeoutSeconds?: number;
  /** Jitter buffer of the room mixers, and the port range their phone sockets bind in. */
  mixer?: { jitterTargetMs: number; adaptiveJitter: boolean; portRange?: { min: number; max: number } };
  /** Calls in progress at most; further INVITEs get 503. */
  maxCalls?: number;
}

interface CallRecord {
  info: SipCallInfo;
  legId: string;
  sip: IncomingCall | OutgoingCall;
  room: Room;
  bridge: RoomAudioBridge;
  negotiated: NegotiatedAudio | null;
  participant: Participant | null;
  sdp: { sessionId: string; version: number; port: number };
  pin: { expected: string; attempts: number; max: number; digits: string; timer: NodeJS.Timeout } | null;
  caller: { number: string; displayName: string };
  attributes: Record<string, string>;
  /** The call's place in the room, kept from before the answer until it joins (or ends). */
  seat: RoomSeat;
  /** The call is on its way out after a last prompt: no media timeout for it. */
  leaving?: boolean;
  /** Makes the participant identity unique to this call. */
  identityTag: string;
  /** The room's worker died: the phone stays on its call and rejoins once the room has a router again. */
  rejoining?: boolean;
}

const ENDED_HISTORY = 200;
/** The `room` label of the shared relay thread in mixer metrics. */
export const RELAY_MIXER_LABEL = '(relay)';
const MEDIA_CHECK_INTERVAL_MS = 2000;
const SHUTDOWN_BYE_WAIT_MS = 5000;

const userOf = (uri: SipUri | undefined): string => uri?.user ?? '';
/**
 * Calls ↔ rooms. Inbound calls (routed by InboundRouter) are answered into their room, optionally held
 * for a PIN, and joined to it as `sip` participants; dial-outs place a call through an outbound trunk and join it once answered. Every
 * way a call can end (BYE either side, kick, room close, CANCEL, media timeout, shutdown) ends the
 * leg, the participant and the mixer slot together.
 */
export class SipCallManager extends TypedEmitter<SipCallManagerEvents> {
  readonly #options: Required<SipCallManagerOptions>;
  readonly #calls = new Map<string, CallRecord>();
  readonly #ended: SipCallInfo[] = [];
  readonly #bridges = new Map<string, Promise<RoomAudioBridge>>();
  /** Rooms with calls: the calls to end when the room closes, and the one listener that does it. */
  readonly #roomWatches = new Map<Room, { calls: Set<CallRecord>; onClose: () => void; onRestored: () => void }>();
  /** The spare room mixer and the relay thread gateway calls share. */
  readonly #mixers: MixerThreadPool;
  readonly #prompts = new PromptLibrary();
  readonly #logger: Logger = createLogger('sip-calls');

  /** The log of one call: every line names its Call-ID and its room. */
  #callLog(call: CallRecord): Logger {
    return this.#logger.child({ callId: call.info.id, room: call.room.name });
  }
  readonly #mediaTimer: NodeJS.Timeout;
  #closing = false;

  constructor(options: SipCallManagerOptions) {
    super();
    this.#options = { mediaTimeoutSeconds: 30, pinTimeoutSeconds: 60, mixer: { jitterTargetMs: 40, adaptiveJitter: true }, maxCalls: 1000, ...options };
    this.#mixers = new MixerThreadPool(this.#options.mixer, this.#logger);
    this.#mediaTimer = setInterval(() => void this.#checkMedia(), MEDIA_CHECK_INTERVAL_MS);
    this.#mediaTimer.unref();
  }

  /** Calls in progress, then recently ended ones. */
  list(): SipCallInfo[] {
    return [...[...this.#calls.values()].map((call) => ({ ...call.info })), ...this.#ended];
  }

  get(callId: string): SipCallInfo {
    const call = this.#calls.get(callId);
    if (call) return { ...call.info };
    const ended = this.#ended.find((info) => info.id === callId);
    if (!ended) throw new NotFoundError(`call ${callId} not found`);
    return ended;
  }

  /** Hangs up a call (BYE, or CANCEL/480 before the answer). */
  async hangup(callId: string): Promise<void> {
    const call = this.#record(callId);
    await this.#end(call, 'hangup');
  }

  /** Sends DTMF digits to a phone as RFC 4733 events. */
  async sendDtmf(callId: string, digits: string): Promise<void> {
    if (!/^[0-9A-D*#]{1,32}$/.test(digits)) throw new BadRequestError('digits: 1-32 of 0-9, A-D, * and #');
    const call = this.#record(callId);
    await call.bridge.sendDtmf(call.legId, digits);
  }

  /** The room's audio bridge (its mixer), when phones are in it: diagnostics and metrics. */
  async audioBridge(room: string): Promise<RoomAudioBridge | undefined> {
    const bridge = await this.#bridges.get(room)?.catch(() => undefined);
    return bridge && !bridge.closed ? bridge : undefined;
  }

  /**
   * Every running mixer thread, for metrics: each room's own under the room's name, and the one relay
   * bridges share under `RELAY_MIXER_LABEL`.
   */
  async mixerThreads(): Promise<Array<{ label: string; mixer: MixerThread }>> {
    const rooms = await Promise.all([...this.#bridges].map(async ([room, bridge]) => {
      const ready = await bridge.catch(() => undefined);
      return ready && !ready.closed && !ready.relays ? [{ label: room, mixer: ready.mixer }] : [];
    }));
    const relay = await this.#mixers.runningRelay();
    return [...rooms.flat(), ...(relay ? [{ label: RELAY_MIXER_LABEL, mixer: relay }] : [])];
  }

  /** Rooms with a running mixer. */
  get mixedRooms(): string[] {
    return [...this.#bridges.keys()];
  }

  /** The SIP dialog of a call in progress (a B2BUA acts on its in-dialog requests, such as REFER). */
  dialogOf(callId: string): IncomingCall | OutgoingCall | undefined {
    return this.#calls.get(callId)?.sip;
  }

  /** The audio path of a call's leg, for diagnostics. */
  describe(callId: string): Promise<string> {
    const call = this.#record(callId);
    return call.bridge.describeLeg(call.legId);
  }

  #record(callId: string): CallRecord {
    const call = this.#calls.get(callId);
    if (!call) throw new NotFoundError(`call ${callId} is not in progress`);
    return call;
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /** Throws when no call can be taken now: shutting down (409), or at the call limit (503). */
  #assertAccepting(): void {
    if (this.#closing) throw new InvalidStateError('shutting down');
    if (this.#calls.size >= this.#options.maxCalls) throw new CapacityError('call limit reached');
  }

  /**
   * Why no call can be taken now, as the answer to give: shutting down, or the call limit reached (503 with
   * Retry-After). Null when calls are taken.
   */
  refusal(callId: string): { status: number; reason: string; headers?: Record<string, string> } | null {
    if (this.#closing) return { status: 503, reason: 'Shutting Down' };
    if (this.#calls.size < this.#options.maxCalls) return null;
    this.#logger.warn({ callId, calls: this.#calls.size }, 'call limit reached; refusing');
    return { status: 503, reason: 'Service Unavailable', headers: { 'Retry-After': '5' } };
  }

  /** Answers a trunk's call into the room its dispatch rule picked (held at the rule's PIN prompt first, if it has one). */
  answerDispatched(sip: IncomingCall, dispatched: { trunk: InboundTrunk; rule: DispatchRule; room: string; callerNumber: string }): Promise<SipCallInfo> {
    const { trunk, rule } = dispatched;
    return this.#answerIntoRoom(sip, {
      room: dispatched.room, codecs: trunk.codecs as PhoneCodecName[], mediaEncryption: trunk.mediaEncryption, trunkId: trunk.id, rule,
      callerNumber: dispatched.callerNumber,
    });
  }

  /**
   * Takes a phone's call (a registered user's, or one a route sends from a trunk to a user) into `room` as a
   * phone leg, answering it only once `answerWhen` resolves (the other side of the call has answered); a
   * rejection refuses the phone with its status (a ConfluxError's, else 480). Meanwhile `answerWhen` may call
   * `early` to send the phone a 183 with our answer and put it in the room, so that it hears the other side's
   * early media. Resolves with the call's info once answered and joined.
   */
  async takeCall(sip: IncomingCall, room: string, codecs: PhoneCodecName[], answerWhen: AnswerWhen,
    options: { relay?: boolean; trunk?: InboundTrunk; rule?: DispatchRule } = {}): Promise<SipCallInfo> {
    this.#assertAccepting();
    return this.#answerIntoRoom(sip, {
      room, codecs, mediaEncryption: options.trunk?.mediaEncryption ?? 'none', trunkId: options.trunk?.id ?? null, rule: options.rule ?? null,
      callerNumber: userOf(sip.remoteIdentity.uri), relay: options.relay === true,
    }, answerWhen);
  }

  async #answerIntoRoom(sip: IncomingCall, plan: InboundPlan, answerWhen?: AnswerWhen): Promise<SipCallInfo> {
    const offer = sip.offer;
    if (!offer) throw new UnsupportedError('an SDP offer is required');
    const log = this.#logger.child({ callId: sip.callId });
    const negotiated = negotiateOffer(offer, plan.codecs, plan.mediaEncryption);
    const { room } = await this.#options.rooms.getOrCreate(plan.room);
    const legId = sip.callId;
    const { bridge, port, seat } = await this.#seatPhone(room, legId, negotiated, plan.relay === true);
    // A CANCEL answered while the room and its mixer were being set up already ended the INVITE: its
    // 'failed' event is gone, so without this check the call would be answered into nothing and joined.
    if (sip.state === 'ended') {
      seat.release();
      if (await bridge.closePhone(legId) === 0) bridge.close();
      throw new InvalidStateError('the caller cancelled');
    }
    const call: CallRecord = {
      info: this.#newInfo(sip.callId, 'inbound', room.name, plan.trunkId, plan.rule?.id ?? null,
        sip.remoteIdentity.uri.toString(), sip.invite.uri.toString()),
      legId, sip, room, bridge, negotiated, participant: null, seat, identityTag: randomBytes(4).toString('hex'),
      sdp: { sessionId: String(randomInt(1, 2 ** 31)), version: 1, port },
      pin: null,
      caller: { number: plan.callerNumber, displayName: sip.remoteIdentity.displayName || plan.callerNumber || 'Phone' },
      attributes: {
        'sip.callId': sip.callId, 'sip.from': sip.remoteIdentity.uri.toString(), 'sip.to': sip.invite.uri.toString(),
        ...(plan.trunkId !== null ? { 'sip.trunk': plan.trunkId } : {}), ...(plan.rule ? { 'sip.rule': plan.rule.id } : {}),
        'sip.direction': 'inbound',
      },
    };
    this.#track(call);
    // A CANCEL or failure before our answer ends the attempt.
    sip.once('failed', () => void this.#end(call, 'cancelled'));
    // The same answer goes in an early 183 and in the 200 (RFC 3261 §13.3.1: an unreliable 183's answer stands).
    const answer = buildAnswer(negotiated, { address: this.#options.mediaAnnouncedAddress, port }, call.sdp.sessionId);
    if (answerWhen) {
      const early = async () => {
        if (call.participant || call.info.state === 'ended') return;
        sip.progress(answer);
        await this.#admit(call, true);
      };
      try {
        await answerWhen(negotiated, early);
      } catch (error) {
        sip.reject(error instanceof ConfluxError ? error.sipStatus : 480);
        await this.#end(call, 'rejected');
        throw error;
      }
      if (call.info.state === 'ended') throw new InvalidStateError('the call ended before it was answered');
    }
    sip.answer(answer);
    call.info.answeredAt = new Date().toISOString();
    call.info.codec = negotiated.codec.name;
    log.info({ room: room.name, trunk: plan.trunkId, rule: plan.rule?.id, codec: negotiated.codec.name }, 'inbound call answered');
    this.safeEmit('call.answered', { ...call.info });
    if (plan.rule?.pin) this.#awaitPin(call, plan.rule);
    // In the room already for early media: only its state changes.
    else if (call.participant) call.info.state = 'active';
    else await this.#admit(call);
    return { ...call.info };
  }

  #awaitPin(call: CallRecord, rule: DispatchRule): void {
    call.info.state = 'pin';
    const timer = setTimeout(() => void this.#end(call, 'pin-timeout'), this.#options.pinTimeoutSeconds * 1000);
    timer.unref();
    call.pin = { expected: rule.pin!, attempts: 0, max: rule.pinMaxAttempts, digits: '', timer };
    this.#prompt(call, 'enter-pin');
  }

  /** Plays a prompt to the caller; a prompt that cannot be played is silence, never a failed call. */
  #prompt(call: CallRecord, name: PromptName): number {
    const samples = this.#prompts.get(name);
    call.bridge.playPrompt(call.legId, samples).catch((error: unknown) => {
      this.#callLog(call).warn({ err: error, prompt: name }, 'cannot play prompt');
    });
    return samples ? (samples.length / 8000) * 1000 : 0;
  }

  #onDigit(call: CallRecord, digit: string): void {
    this.safeEmit('call.dtmf', { ...call.info }, digit);
    const pin = call.pin;
    if (!pin) return;
    // An entry is judged once it is as long as the PIN, so the # callers press after it finds nothing
    // entered: it closes that entry and is no attempt of its own.
    if (digit === '#' && pin.digits.length === 0) return;
    if (digit !== '#') pin.digits += digit;
    if (digit !== '#' && pin.digits.length < pin.expected.length) return;
    if (pin.digits === pin.expected) {
      clearTimeout(pin.timer);
      call.pin = null;
      this.#admit(call).catch((error: unknown) => {
        this.#callLog(call).error({ err: error }, 'cannot admit caller after PIN');
        void this.#end(call, 'failed');
      });
      return;
    }
    pin.attempts += 1;
    pin.digits = '';
    this.#callLog(call).info({ attempts: pin.attempts }, 'wrong PIN');
    if (pin.attempts < pin.max) {
      this.#prompt(call, 'wrong-pin');
      return;
    }
    // Say goodbye before hanging up; bounded so a long recording cannot hold the line.
    clearTimeout(pin.timer);
    call.pin = null;
    call.leaving = true;
    const playMs = Math.min(this.#prompt(call, 'goodbye'), 8000);
    setTimeout(() => void this.#end(call, 'pin-failed'), playMs + 300).unref();
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /** Places a call through an outbound trunk; resolves once it is answered or has failed. */
  async dialOut(request: DialOutRequest): Promise<DialOutResult> {
    this.#assertAccepting();
    if (request.trunkId === undefined) return this.#dialUser(request);
    const trunk = this.#options.store.get('outboundTrunks', request.trunkId);
    if (!trunk) throw new NotFoundError(`outbound trunk ${request.trunkId} not found`);
    return this.dialTrunk({
      room: request.room, trunk, to: request.to,
      ...(request.displayName ? { displayName: request.displayName } : {}),
      ...(request.ringTimeoutSeconds !== undefined ? { ringTimeoutSeconds: request.ringTimeoutSeconds } : {}),
    });
  }

  /**
   * Calls `to` through `trunk` into `room`; resolves once it is answered or has failed. `hooks` as for dialContact.
   */
  async dialTrunk(request: TrunkDialRequest, hooks: DialHooks = {}): Promise<DialOutResult> {
    this.#assertAccepting();
    const { trunk } = request;
    const target = this.#dialTarget(request.to, trunk);
    return this.#placeCall({
      room: request.room, target, from: `sip:${request.callerUser ?? trunk.fromNumber}@${trunk.host}`, trunkId: trunk.id,
      codecs: request.codecs ?? trunk.codecs as PhoneCodecName[], mediaEncryption: trunk.mediaEncryption,
      ...(trunk.auth ? { credentials: trunk.auth } : {}),
      ...(request.displayName ? { displayName: request.displayName } : {}),
      ...(request.ringTimeoutSeconds !== undefined ? { ringTimeoutSeconds: request.ringTimeoutSeconds } : {}),
      ...(request.relay ? { relay: true } : {}),
      ...(request.maxForwards !== undefined ? { maxForwards: request.maxForwards } : {}),
    }, hooks);
  }

  /** Dial-out to a user of our registrar: its newest plain-RTP binding, over the flow it registered from. */
  async #dialUser(request: DialOutRequest): Promise<DialOutResult> {
    const registrar = this.#options.ua.registrar;
    let uri: SipUri | undefined;
    try {
      uri = SipUri.parse(request.to.trim());
    } catch {
      uri = undefined;
    }
    if (!registrar || !uri?.user || !/^sips?$/.test(uri.scheme) || !registrar.isLocalDomain(uri.host)) {
      throw new BadRequestError(`to: without trunkId, a user of this server (sip:<user>@${registrar?.domain ?? 'domain'})`);
    }
    const binding = registeredPhone(registrar, uri, 'dial-out into a room');
    return this.#placeCall({
      room: request.room, target: binding.contact.uri, destination: binding.source, from: `sip:${this.#options.ua.userName}@${registrar.domain}`,
      trunkId: null, codecs: ['PCMU', 'PCMA', 'G722', 'opus'], mediaEncryption: 'none',
      ...(request.displayName ? { displayName: request.displayName } : {}),
      ...(request.ringTimeoutSeconds !== undefined ? { ringTimeoutSeconds: request.ringTimeoutSeconds } : {}),
    }, {});
  }

  /**
   * Calls a registered contact (a user's binding, reached over the flow it registered from) into `room`;
   * resolves once it is answered or has failed. `hooks.started` learns the call id at once, so that the
   * caller can hang up a call that is still ringing.
   */
  async dialContact(request: ContactDialRequest, hooks: DialHooks = {}): Promise<DialOutResult> {
    this.#assertAccepting();
    return this.#placeCall({ ...request, trunkId: null, mediaEncryption: 'none' }, hooks);
  }

  async #placeCall(request: PlacedCall, hooks: DialHooks): Promise<DialOutResult> {
    const { target, codecs } = request;
    const { room } = await this.#options.rooms.getOrCreate(request.room);
    const legId = `out-${randomBytes(6).toString('hex')}`;
    // Our offer's first codec until the answer says otherwise.
    const crypto = request.mediaEncryption === 'sdes' ? newOfferCrypto() : [];
    const provisional = readAnswer(createOffer(codecs, { address: '127.0.0.1', port: 9 }, '0'), codecs);
    // SDES: until the answer brings the phone's key, the socket unprotects with a key nobody has, so
    // whatever arrives before it (early media, strays) is dropped rather than taken in the clear.
    if (crypto[0]) {
      provisional.srtp = { suite: crypto[0].suite, tag: crypto[0].tag, inboundKey: randomBytes(SRTP_KEY_MATERIAL_LENGTH).toString('base64'), outboundKey: crypto[0].key };
    }
    const { bridge, port, seat } = await this.#seatPhone(room, legId, provisional, request.relay === true);
    const sessionId = String(randomInt(1, 2 ** 31));
    const offer = createOffer(codecs, { address: this.#options.mediaAnnouncedAddress, port }, sessionId, 1, crypto);
    let sip: OutgoingCall;
    try {
      sip = this.#options.ua.sendInvite(target.toString(), offer, {
        from: request.from,
        ...(request.displayName ? { displayName: request.displayName } : {}),
        noAnswerTimeoutMs: (request.ringTimeoutSeconds ?? 30) * 1000,
        ...(request.credentials ? { credentials: [request.credentials] } : {}),
        ...(request.destination ? { destination: request.destination } : {}),
        ...(request.maxForwards !== undefined ? { maxForwards: request.maxForwards } : {}),
      });
    } catch (error) {
      seat.release();
      await bridge.closePhone(legId);
      throw error;
    }
    const call: CallRecord = {
      info: this.#newInfo(sip.callId, 'outbound', room.name, request.trunkId, null, request.from, target.toString()),
      legId, sip, room, bridge, negotiated: null, participant: null, seat, identityTag: randomBytes(4).toString('hex'),
      sdp: { sessionId, version: 1, port }, pin: null,
      caller: { number: userOf(target), displayName: request.displayName || userOf(target) || 'Phone' },
      attributes: {
        'sip.callId': sip.callId, 'sip.from': request.from, 'sip.to': target.toString(),
        ...(request.trunkId !== null ? { 'sip.trunk': request.trunkId } : {}), 'sip.direction': 'outbound',
      },
    };
    this.#track(call);
    hooks.started?.(sip.callId);
    // Early media (a 183 with SDP) is taken into the room before the answer only when the dialler wants it.
    let early: Promise<void> | null = null;
    const earlyMedia = hooks.earlyMedia;
    if (earlyMedia) {
      sip.on('earlyMedia', (sdp) => {
        // The first early answer only: a forked call's other early dialogs are not heard.
        if (early || call.info.state === 'ended') return;
        early = this.#takeEarlyMedia(call, readAnswer(sdp, codecs, crypto)).then(() => {
          if (call.info.state !== 'ended') earlyMedia({ ...call.info });
        }, (error: unknown) => this.#logger.warn({ err: error, callId: sip.callId }, 'early media cannot be taken'));
      });
    }
    return new Promise<DialOutResult>((resolve) => {
      let ringing = false;
      sip.on('provisional', (status) => {
        if (!ringing && (status === 180 || status === 183)) {
          ringing = true;
          hooks.ringing?.();
          this.safeEmit('call.ringing', { ...call.info });
        }
      });
      sip.once('failed', (status, reason) => {
        const outcome = outcomeOf(status);
        call.info.status = status;
        call.info.reason = reason;
        this.#logger.info({ callId: sip.callId, status, reason, outcome }, 'dial-out did not connect');
        void this.#end(call, outcome).then(() => resolve({ call: this.get(call.info.id), outcome }));
      });
      sip.once('answered', (answerSdp) => {
        void (async () => {
          try {
            await early;
            const negotiated = readAnswer(answerSdp, codecs, crypto);
            await bridge.setDirection(legId, negotiated);
            call.negotiated = negotiated;
            call.info.codec = negotiated.codec.name;
            call.info.answeredAt = new Date().toISOString();
            this.safeEmit('call.answered', { ...call.info });
            // In the room already for its early media: only its state changes.
            if (call.participant && call.info.state === 'ringing') call.info.state = 'active';
            else await this.#admit(call);
            resolve({ call: { ...call.info }, outcome: 'answered' });
          } catch (error) {
            this.#logger.warn({ err: error, callId: sip.callId }, 'answered call could not be bridged');
            call.info.status = error instanceof ConfluxError ? error.sipStatus : 500;
            await this.#end(call, 'failed');
            resolve({ call: this.get(call.info.id), outcome: 'failed' });
          }
        })();
      });
    });
  }

  /**
   * Where a dial-out goes: the trunk's host, with the number or the user part of a `sip:` URI. Only a
   * trunk with `allowAnyHost` lets the URI's own host through: otherwise a REST caller could send the
   * trunk's INVITE, and its digest answer, to any host.
   */
  #dialTarget(to: string, trunk: OutboundTrunk): SipUri {
    const trimmed = to.trim();
    let user = trimmed;
    if (/^sips?:/i.test(trimmed)) {
      let uri: SipUri;
      try {
        uri = SipUri.parse(trimmed);
      } catch {
        throw new BadRequestError('to: not a valid SIP URI');
      }
      if (trunk.allowAnyHost) return uri;
      if (!uri.user) throw new BadRequestError('to: the SIP URI needs a user part; this trunk only calls users at its own host');
      user = uri.user;
    } else if (!/^\+?[0-9*#]{1,32}$/.test(trimmed)) {
      throw new BadRequestError('to: a phone number (digits, optional +) or a sip: URI');
    }
    return new SipUri({ scheme: 'sip', user, host: trunk.host, port: trunk.port, params: new Map([['transport', trunk.transport]]) });
  }

  // ---- shared -----------------------------------------------------------------------------------

  #newInfo(id: string, direction: 'inbound' | 'outbound', room: string, trunkId: string | null, ruleId: string | null,
    from: string, to: string): SipCallInfo {
    return {
      id, direction, room, trunkId, ruleId, from, to, state: 'ringing', participantId: null, codec: null, onHold: false,
      startedAt: new Date().toISOString(), answeredAt: null, endedAt: null, endReason: null, status: null, reason: null,
    };
  }

  #track(call: CallRecord): void {
    this.#calls.set(call.info.id, call);
    const { sip } = call;
    sip.once('ended', (reason) => void this.#end(call, reason === 'remote-bye' ? 'remote-hangup' : reason));
    sip.on('dtmf', (digit) => this.#onDigit(call, digit));
    sip.offerHandler = (remoteSdp) => this.#onReoffer(call, remoteSdp);
    // A participant is ended by its room's close, but a caller still at the PIN prompt (or a dial-out still
    // ringing) is none yet: without this it stayed connected to a closed mixer, which the media check skips.
    this.#watchRoom(call);
  }

  /**
   * Ends the room's calls when it closes, and puts its phones back in when it is rebuilt after its worker
   * died: one pair of listeners per room with calls, removed with its last call.
   */
  #watchRoom(call: CallRecord): void {
    let watch = this.#roomWatches.get(call.room);
    if (!watch) {
      const room = call.room;
      const onClose = () => {
        room.off('mediarestored', onRestored);
        this.#roomWatches.delete(room);
        for (const inRoom of [...watch!.calls]) void this.#end(inRoom, 'room-closed');
      };
      const onRestored = () => {
        for (const inRoom of [...watch!.calls]) if (inRoom.rejoining) void this.#rejoin(inRoom);
      };
      watch = { calls: new Set(), onClose, onRestored };
      this.#roomWatches.set(room, watch);
      room.once('close', onClose);
      room.on('mediarestored', onRestored);
    }
    watch.calls.add(call);
  }

  #unwatchRoom(call: CallRecord): void {
    const watch = this.#roomWatches.get(call.room);
    if (!watch) return;
    watch.calls.delete(call);
    if (watch.calls.size > 0) return;
    call.room.off('close', watch.onClose);
    call.room.off('mediarestored', watch.onRestored);
    this.#roomWatches.delete(call.room);
  }

  /** A phone whose room was rebuilt joins it again: a new participant and producer, the same socket and call. */
  async #rejoin(call: CallRecord): Promise<void> {
    call.rejoining = false;
    if (call.info.state === 'ended') return;
    try {
      await this.#admit(call, call.info.state !== 'active');
      this.#callLog(call).info('phone back in its rebuilt room');
    } catch (error) {
      this.#callLog(call).warn({ err: error }, 'cannot put the phone back in its rebuilt room');
      void this.#end(call, 'media-failure');
    }
  }

  /**
   * Re-offers a call's media with `direction` as ours (re-INVITE), the codec kept, and applies the answer:
   * how a gateway carries the other side's hold and resume to the phone. Resolves with our direction.
   */
  async reoffer(callId: string, direction: MediaDirection): Promise<MediaDirection> {
    const call = this.#record(callId);
    const negotiated = call.negotiated;
    if (!negotiated || call.info.answeredAt === null) throw new InvalidStateError(`call ${callId} is not answered yet`);
    call.sdp.version += 1;
    const offer = buildReoffer(negotiated, { address: this.#options.mediaAnnouncedAddress, port: call.sdp.port }, call.sdp.sessionId,
      call.sdp.version, direction);
    const result = await call.sip.reinvite(offer);
    if (result.status < 200 || result.status >= 300 || !result.sdp) {
      throw new ConfluxError(`the phone answered the re-INVITE ${result.status}`, 502, result.status >= 400 ? result.status : 500);
    }
    const answered = readAnswer(result.sdp, [negotiated.codec.name], negotiated.srtp ? [{ tag: negotiated.srtp.tag, suite: negotiated.srtp.suite, key: negotiated.srtp.outboundKey }] : []);
    // What we do is what we offered, narrowed by the answer (a recvonly answer to our sendrecv: we only send).
    const local = narrowDirection(direction, answered.localDirection);
    call.negotiated = { ...answered, localDirection: local, srtp: answered.srtp ?? negotiated.srtp };
    call.info.onHold = local !== 'sendrecv';
    await call.bridge.setDirection(call.legId, call.negotiated);
    return local;
  }

  /** A re-INVITE or UPDATE with SDP: same codec, new direction or address (hold, resume, moved phone). */
  #onReoffer(call: CallRecord, remoteSdp: string): string | undefined {
    if (!call.negotiated) return undefined;
    try {
      const previous = call.negotiated;
      const negotiated = negotiateOffer(remoteSdp, [previous.codec.name], previous.srtp ? 'sdes' : 'none');
      if (negotiated.codec.payloadType !== previous.codec.payloadType) return undefined;
      // Our key stays while the suite does: a fresh one would restart our stream's rollover counter for nothing.
      if (negotiated.srtp && previous.srtp?.suite === negotiated.srtp.suite) negotiated.srtp.outboundKey = previous.srtp.outboundKey;
      call.negotiated = negotiated;
      call.info.onHold = negotiated.localDirection !== 'sendrecv';
      call.bridge.setDirection(call.legId, negotiated).catch((error: unknown) => {
        this.#callLog(call).warn({ err: error }, 'cannot apply re-negotiation');
      });
      if (negotiated.localDirection !== previous.localDirection) this.safeEmit('call.reoffered', { ...call.info }, negotiated.localDirection);
      call.sdp.version += 1;
      return buildAnswer(negotiated, { address: this.#options.mediaAnnouncedAddress, port: call.sdp.port },
        call.sdp.sessionId, call.sdp.version);
    } catch {
      return undefined;
    }
  }

  /**
   * A dialled phone's early media (183 with SDP): its leg takes the early answer, and it joins the room, so
   * that what it plays (ringback, announcements) is heard before the answer.
   */
  async #takeEarlyMedia(call: CallRecord, negotiated: NegotiatedAudio): Promise<void> {
    await call.bridge.setDirection(call.legId, negotiated);
    if (call.info.state === 'ended') return;
    call.negotiated = negotiated;
    call.info.codec = negotiated.codec.name;
    await this.#admit(call, true);
  }

  /** Joins the caller to the room as a `sip` participant and connects its audio both ways (`early`: still ringing, for its early media). */
  async #admit(call: CallRecord, early = false): Promise<void> {
    if (call.info.state === 'ended') return;
    const participant = call.room.join({
      // Unique per call: two calls of one caller (or Call-IDs a PBX numbers alike) are two participants.
      identity: `sip-${identitySafe(call.caller.number)}-${call.identityTag}`,
      displayName: call.caller.displayName,
      kind: 'sip',
      attributes: call.attributes,
    }, call.seat);
    call.participant = participant;
    call.info.participantId = participant.id;
    // In the room from here on (its media is connected next).
    if (!early) call.info.state = 'active';
    participant.once('close', (reason) => {
      if (call.info.state === 'ended') return;
      // Its room's worker died: the phone's socket and mix live in the mixer thread, so the call goes on (the
      // phones still hear each other) and the phone rejoins the rebuilt room. A relayed call cannot: its other
      // party's media went with the worker.
      if (reason === 'media-restart' && !call.bridge.relays) {
        call.participant = null;
        call.info.participantId = null;
        call.rejoining = true;
        this.#callLog(call).warn('room media restarting: the phone stays on its call');
        return;
      }
      void this.#end(call, removalToEndReason(reason));
    });
    try {
      await call.bridge.admit(call.legId, participant);
    } catch (error) {
      // A BYE right after the ACK ends the call while its media is being connected: a normal hang-up.
      if (!this.#calls.has(call.info.id)) return;
      throw error;
    }
    // The call may have ended while the media was being connected.
    if (!this.#calls.has(call.info.id)) return;
    this.#callLog(call).info({ participantId: participant.id }, 'phone joined the room');
  }

  /** Ends a call everywhere; idempotent. */
  async #end(call: CallRecord, reason: string): Promise<void> {
    if (call.info.state === 'ended') return;
    call.info.state = 'ended';
    call.info.endedAt = new Date().toISOString();
    call.info.endReason = reason;
    if (call.pin) clearTimeout(call.pin.timer);
    this.#unwatchRoom(call);
    call.seat.release();
    this.#calls.delete(call.info.id);
    this.#ended.unshift({ ...call.info });
    this.#ended.length = Math.min(this.#ended.length, ENDED_HISTORY);
    this.#callLog(call).info({ reason }, 'call ended');
    if (call.sip.state !== 'ended') await call.sip.terminate().catch(() => undefined);
    call.participant?.close('left');
    const left = await call.bridge.closePhone(call.legId);
    if (left === 0) call.bridge.close();
    this.safeEmit('call.ended', { ...call.info });
  }

  /**
   * Keeps the call's seat in the room and opens its phone socket; a full room refuses it (486) before it is
   * answered or dialled, and a socket that cannot open gives the seat back.
   */
  async #seatPhone(room: Room, legId: string, negotiated: NegotiatedAudio, relay: boolean): Promise<{ bridge: RoomAudioBridge; port: number; seat: RoomSeat }> {
    const seat = room.reserveSeat();
    try {
      return { ...await this.#openPhone(room, legId, negotiated, relay), seat };
    } catch (error) {
      seat.release();
      throw error;
    }
  }

  /**
   * Opens the phone's socket on the room's bridge. A bridge whose last leg just ended closes itself, so
   * a call racing that close gets a fresh bridge instead of failing.
   */
  async #openPhone(room: Room, legId: string, negotiated: NegotiatedAudio, relay: boolean): Promise<{ bridge: RoomAudioBridge; port: number }> {
    for (let attempt = 1; ; attempt++) {
      const bridge = await this.#bridgeFor(room, relay);
      try {
        return { bridge, port: await bridge.openPhone(legId, negotiated) };
      } catch (error) {
        if (!bridge.closed || attempt >= 2) throw error;
      }
    }
  }

  /**
   * The room's bridge, created on its first phone: a mixer thread of its own, or (`relay`, a two-party call
   * sharing a codec) a relay bridge on the thread all such calls share.
   */
  async #bridgeFor(room: Room, relay: boolean): Promise<RoomAudioBridge> {
    let bridge = this.#bridges.get(room.name);
    if (bridge) {
      const existing = await bridge;
      if (!existing.closed) return existing;
    }
    bridge = relay
      ? this.#mixers.relay().then((mixer) => RoomAudioBridge.relay(room, this.#options.mediaListenIp, mixer))
      : this.#mixers.forRoom().then((mixer) => RoomAudioBridge.onMixer(room, this.#options.mediaListenIp, mixer, (idle) => this.#mixers.giveBack(idle)));
    this.#bridges.set(room.name, bridge);
    const created = await bridge.catch((error: unknown) => {
      this.#bridges.delete(room.name);
      throw error;
    });
    created.on('dtmf', (legId, digit) => {
      const call = [...this.#calls.values()].find((candidate) => candidate.legId === legId);
      if (call) this.#onDigit(call, digit);
    });
    created.once('close', (reason) => {
      if (this.#bridges.get(room.name) === bridge) this.#bridges.delete(room.name);
      // A mixer that died leaves its calls without audio: end them rather than keep silent lines up.
      if (reason !== 'mixer-exit') return;
      for (const call of [...this.#calls.values()]) {
        if (call.bridge === created) void this.#end(call, 'media-failure');
      }
    });
    return created;
  }

  /**
   * The room's mixing bridge, started if it has none: for a participant that hears the room's mix-minus
   * without a phone leg (a browser SIP client). Its owner closes the bridge once it leaves it unused.
   */
  roomBridge(room: Room): Promise<RoomAudioBridge> {
    if (this.#closing) return Promise.reject(new InvalidStateError('shutting down'));
    return this.#bridgeFor(room, false);
  }

  /** Starts the shared relay thread ahead of the first gateway call, so that call does not wait for it. */
  warmRelay(): void {
    if (!this.#closing) this.#mixers.warmRelay();
  }

  /** Ends calls whose phone stopped sending RTP (unless it is on hold and so not expected to send). */
  async #checkMedia(): Promise<void> {
    const limitMs = this.#options.mediaTimeoutSeconds * 1000;
    const bridges = new Set([...this.#calls.values()].map((call) => call.bridge));
    for (const bridge of bridges) {
      if (bridge.closed) continue;
      const activity = await bridge.activity().catch(() => new Map());
      for (const call of this.#calls.values()) {
        if (call.bridge !== bridge || !call.negotiated || call.info.answeredAt === null || call.leaving) continue;
        const direction = call.negotiated.localDirection;
        if (direction === 'inactive' || direction === 'sendonly') continue;
        const seen = activity.get(call.legId);
        const idleMs = seen?.idleMs ?? Date.now() - Date.parse(call.info.answeredAt);
        if (idleMs > limitMs) {
          this.#callLog(call).warn({ idleMs }, 'no RTP from the phone: ending the call');
          void this.#end(call, 'media-timeout');
        }
      }
    }
  }

  /** Ends every call (BYE) and stops the mixers. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#mediaTimer);
    // BYEs go out together; a phone that does not answer its BYE must not hold the shutdown for 32 s.
    const ending = Promise.all([...this.#calls.values()].map((call) => this.#end(call, 'shutdown')));
    await Promise.race([ending, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_BYE_WAIT_MS).unref())]);
    for (const bridge of this.#bridges.values()) void bridge.then((b) => b.close(), () => undefined);
    this.#bridges.clear();
    await this.#mixers.close();
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.#logger.error({ event, err: error }, 'call event listener threw');
  }
}

/** The direction both `a` and `b` allow (sendrecv ∩ sendonly = sendonly, sendonly ∩ recvonly = inactive). */
function narrowDirection(a: MediaDirection, b: MediaDirection): MediaDirection {
  const sends = (a === 'sendrecv' || a === 'sendonly') && (b === 'sendrecv' || b === 'sendonly');
  const receives = (a === 'sendrecv' || a === 'recvonly') && (b === 'sendrecv' || b === 'recvonly');
  return sends ? (receives ? 'sendrecv' : 'sendonly') : receives ? 'recvonly' : 'inactive';
}

function outcomeOf(status: number): DialOutcome {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480 || status === 487) return 'no-answer';
  if (status === 603) return 'rejected';
  return 'failed';
}

/** Why a SIP participant left its room, as its call's end reason. */
export function removalToEndReason(reason: RemovalReason): string {
  return reason === 'kicked' ? 'kicked' : reason === 'room-closed' ? 'room-closed'
    : reason === 'server-shutdown' ? 'shutdown' : reason === 'duplicate-identity' ? 'replaced'
      : reason === 'media-restart' ? 'media-failure' : 'left';
}
