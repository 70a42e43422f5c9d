import type { types } from 'mediasoup';
import type { Logger } from '../../server/logging/Logger.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { Room } from '../../server/rooms/Room.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { ProducerAppData, TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import type { Binding } from '../sip/RegistrarTypes.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import type { UserAgent } from '../sip/UserAgent.js';
import { BrowserRing, refuseCaller, type AnsweredFork } from './browserLeg.js';
import { GATEWAY_CODECS, newCallInfo, type GatewayCallEvents, type GatewayCallInfo } from './GatewayCall.js';
import { hopsLeft } from './hopsLeft.js';
import { identitySafe } from './identitySafe.js';
import type { MediaDirection } from './PhoneSdp.js';
import { WebRtcMediaLeg } from './WebRtcMediaLeg.js';
import { readWebRtcSdp, routerVideoCodec, type WebRtcDescription } from './WebRtcSdp.js';

export interface BrowserBridgeCallContext {
  ua: UserAgent;
  rooms: RoomRegistry;
  listen: TransportListenConfig;
  logger: Logger;
}

/** One browser's side of the call: its dialog, its participant in the private room and its media leg. */
interface Side {
  dialog: IncomingCall | OutgoingCall;
  participant: Participant;
  leg: WebRtcMediaLeg;
}

/** The private room's seats: the two browsers. */
const BRIDGE_ROOM_SEATS = 2;

function producerOf(participant: Participant, kind: types.MediaKind): types.Producer<ProducerAppData> | undefined {
  return [...participant.producers.values()].find((producer) => producer.kind === kind);
}

/**
 * A call between two browser SIP clients (WebRTC on both sides), anchored in a private two-party room: each
 * browser is a participant with a WebRTC transport of its own, and hears (and, when both send video, sees) the
 * other's producers as consumers. mediasoup forwards the packets as they are (each side has its own DTLS-SRTP
 * keys), in the audio codec the caller prefers of those we carry and its first VP8 or H.264; key presses cross as SIP INFO, holds as re-offers. The caller is
 * answered once the callee has. Either side hanging up ends both: one `end(reason)`.
 */
export class BrowserBridgeCall extends TypedEmitter<GatewayCallEvents> {
  readonly info: GatewayCallInfo;
  readonly #caller: IncomingCall;
  readonly #context: BrowserBridgeCallContext;
  readonly #log: Logger;
  #room: Room | null = null;
  #callee: OutgoingCall | null = null;
  /** The callee's browsers, ringing until one answers. */
  #ring: BrowserRing<WebRtcMediaLeg> | null = null;
  #callerSide: Side | null = null;
  #calleeSide: Side | null = null;

  get #ended(): boolean {
    return this.info.state === 'ended';
  }

  constructor(caller: IncomingCall, from: string, to: string, context: BrowserBridgeCallContext) {
    super();
    this.#caller = caller;
    this.#context = context;
    this.info = newCallInfo(caller.callId, from, to);
    this.#log = context.logger.child({ callId: caller.callId, room: this.info.room });
  }

  /**
   * Rings the callee's browsers (`bindings`, newest first) with our offer in the codec the caller's `offer`
   * prefers, each on a leg of its own; once one answers, connects the caller's media and answers it.
   */
  async start(bindings: readonly Binding[], offer: WebRtcDescription, callerName: string): Promise<void> {
    const caller = this.#caller;
    caller.once('failed', () => void this.end('cancelled'));
    caller.once('ended', (reason) => void this.end(reason === 'remote-bye' ? 'caller-hangup' : reason));
    caller.offerHandler = (sdp) => this.#onReoffer('caller', sdp);
    const codec = WebRtcMediaLeg.pickCodec(offer, GATEWAY_CODECS);
    // The router numbers Opus and the video codec as the caller does; the callee is offered the same numbering.
    const opus = offer.audio.codecs.find((candidate) => candidate.name === 'opus');
    const video = opus ? WebRtcMediaLeg.pickVideoCodec(offer) : null;
    const { room } = await this.#context.rooms.getOrCreate(this.info.room, {
      maxParticipants: BRIDGE_ROOM_SEATS, ...(opus ? { opusPayloadType: opus.payloadType } : {}),
      ...(video ? { video: routerVideoCodec(video) } : {}),
    });
    this.#room = room;
    if (this.#ended) return;
    const calleeParticipant = this.#join(room, this.info.to, 'outbound');
    // No RFC 4733 on either side: a browser's keys come as SIP INFO, and go on as INFO.
    const ring = await BrowserRing.start(this.#context.ua, bindings,
      () => WebRtcMediaLeg.offering(calleeParticipant, this.#context.listen, codec, { video }), (leg) => leg.offer(null),
      { from: this.info.from, displayName: callerName, maxForwards: hopsLeft(caller), onRinging: () => caller.ring() });
    this.#ring = ring;
    this.info.contactCallId = ring.forks[0]?.call.callId ?? null;
    if (this.#ended) return ring.abort();
    let won: AnsweredFork<WebRtcMediaLeg>;
    try {
      won = await ring.answered;
    } catch (error) {
      if (this.#ended) return;
      refuseCaller(caller, error);
      await this.end('callee-failed');
      return;
    }
    const { call: callee, leg: calleeLeg, answer } = won;
    if (this.#ended) {
      // The caller went while the callee answered: the ring left the winner to us.
      void callee.terminate();
      return calleeLeg.close();
    }
    this.#callee = callee;
    this.info.contactCallId = callee.callId;
    callee.once('ended', () => void this.end('callee-hangup'));
    callee.offerHandler = (sdp) => this.#onReoffer('callee', sdp);
    this.#calleeSide = { dialog: callee, participant: calleeParticipant, leg: calleeLeg };
    await calleeLeg.accept(answer);
    const callerParticipant = this.#join(room, this.info.from, 'inbound');
    // Video only when the callee took it: else the caller's video m-line is refused.
    const callerLeg = await WebRtcMediaLeg.answering(callerParticipant, this.#context.listen, offer, codec, {
      telephoneEvents: false, video: calleeLeg.hasVideo ? video : null,
    });
    this.#callerSide = { dialog: caller, participant: callerParticipant, leg: callerLeg };
    if (this.#ended) return;
    // Each hears (and sees) the other, as it sends: nothing is decoded.
    for (const kind of ['audio', 'video'] as const) {
      const fromCallee = producerOf(calleeParticipant, kind);
      const fromCaller = producerOf(callerParticipant, kind);
      if (fromCallee) await (kind === 'audio' ? callerLeg.consume(fromCallee) : callerLeg.consumeVideo(fromCallee));
      if (fromCaller) await (kind === 'audio' ? calleeLeg.consume(fromCaller) : calleeLeg.consumeVideo(fromCaller));
    }
    if (this.#ended) return;
    caller.answer(callerLeg.answer());
    this.info.state = 'active';
    this.info.codec = codec.name;
    this.info.videoCodec = callerLeg.hasVideo ? video?.name ?? null : null;
    this.#relayDtmf(caller, callee);
    this.#relayDtmf(callee, caller);
    this.#log.info({ codec: codec.name, contactCallId: callee.callId }, 'browser-to-browser call answered');
  }

  #join(room: Room, uri: string, direction: 'inbound' | 'outbound'): Participant {
    return room.join({
      identity: `sip-user-${identitySafe(uri)}-${direction}`, displayName: uri, kind: 'sip',
      attributes: { 'sip.from': this.info.from, 'sip.to': this.info.to, 'sip.direction': direction, 'sip.media': 'webrtc' },
    });
  }

  /** One browser's keys (SIP INFO) reach the other as INFO. */
  #relayDtmf(from: IncomingCall | OutgoingCall, to: IncomingCall | OutgoingCall): void {
    from.on('dtmf', (digit) => {
      if (this.#ended) return;
      to.sendDtmfInfo(digit).catch((error: unknown) => this.#log.warn({ err: error, digit }, 'cannot pass a key to the other browser'));
    });
  }

  /**
   * One browser re-offers (hold, resume): the other is re-offered the same direction first (it holds: we only
   * send to the other, which answers recvonly), then the first is answered. A re-offer that changes the
   * codec, or that the other side refuses, is refused (488) and nothing changes.
   */
  async #onReoffer(who: 'caller' | 'callee', sdp: string): Promise<string | undefined> {
    const self = who === 'caller' ? this.#callerSide : this.#calleeSide;
    const other = who === 'caller' ? this.#calleeSide : this.#callerSide;
    if (!self || !other || this.info.state !== 'active') return (who === 'caller' ? this.#caller : this.#callee)?.localSdp;
    let offer: WebRtcDescription;
    try {
      offer = readWebRtcSdp(sdp);
      self.leg.codecIn(offer);
    } catch {
      return undefined;
    }
    const direction: MediaDirection = offer.audio.direction;
    try {
      await other.leg.renegotiate(other.dialog, direction, null);
    } catch (error) {
      this.#log.warn({ err: error, direction }, `the ${who === 'caller' ? 'callee' : 'caller'} did not take the re-offer`);
      return undefined;
    }
    await self.leg.reoffered(offer);
    this.#log.info({ direction, from: who }, 'browser re-offer carried to the other browser');
    return self.leg.answer();
  }

  /** Refuses the caller (before it is answered) with `error`'s status and a Warning saying why. */
  refuse(error: unknown): void {
    refuseCaller(this.#caller, error);
  }

  /** Ends both browsers' calls and the private room; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.#ended) return;
    this.info.state = 'ended';
    this.info.endReason = reason;
    this.#log.info({ reason }, 'browser-to-browser call ended');
    const rejectStatus = reason === 'shutdown' ? 503 : 480;
    this.#ring?.abort();
    await Promise.all([
      this.#caller.state !== 'ended' ? this.#caller.terminate(rejectStatus).catch(() => undefined) : undefined,
      this.#callee && this.#callee.state !== 'ended' ? this.#callee.terminate().catch(() => undefined) : undefined,
    ]);
    this.#callerSide?.leg.close();
    this.#calleeSide?.leg.close();
    if (this.#room && !this.#room.closed) this.#room.close('room-closed');
    this.safeEmit('ended', { ...this.info });
  }
}
