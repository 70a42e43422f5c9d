import { ConfluxError } from '../../server/errors.js';
import type { Logger } from '../../server/logging/Logger.js';
import type { Room } from '../../server/rooms/Room.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import { GATEWAY_CODECS, newCallInfo, type GatewayCallEvents, type GatewayCallInfo, type PhoneDial } from './GatewayCall.js';
import type { MediaDirection, PhoneCodecName } from './PhoneSdp.js';
import type { InboundTrunk } from './SipCallSchemas.js';
import type { SipCallInfo } from './SipCallTypes.js';
import type { SipCallManager } from './SipCallManager.js';
import { ANSWER_DIRECTION } from './WebRtcSdp.js';

export interface PhoneBridgeContext {
  rooms: RoomRegistry;
  calls: SipCallManager;
  logger: Logger;
}

/**
 * A back-to-back call between two plain-RTP phones: a registered phone calling another (or a number out
 * through a trunk), or a trunk's call a route sends to a registered phone. The caller is taken into a private
 * two-party room, the callee is dialled there with the caller's codec, and the caller is answered once the
 * callee answers (with the callee's refusal otherwise); the callee's early media reaches the caller. Both legs are relayed untranscoded on the thread
 * gateway calls share; hold, keys and hang-ups cross from either side. One `end(reason)` ends both.
 */
export class PhoneBridgeCall extends TypedEmitter<GatewayCallEvents> {
  readonly info: GatewayCallInfo;
  readonly #caller: IncomingCall;
  readonly #context: PhoneBridgeContext;
  readonly #log: Logger;
  #room: Room | null = null;

  constructor(caller: IncomingCall, from: string, to: string, context: PhoneBridgeContext) {
    super();
    this.#caller = caller;
    this.#context = context;
    this.info = newCallInfo(caller.callId, from, to);
    this.#log = context.logger.child({ callId: caller.callId, room: this.info.room });
  }

  /**
   * Takes the caller in (on `trunk`'s terms when it came over one), dials the callee with the caller's codec
   * (one of `allowed` and the trunk's), and answers once the callee has.
   */
  async start(dial: PhoneDial, trunk?: InboundTrunk, allowed: readonly PhoneCodecName[] = GATEWAY_CODECS): Promise<void> {
    const caller = this.#caller;
    const codecs = allowed.filter((name) => GATEWAY_CODECS.includes(name) && (!trunk || (trunk.codecs as string[]).includes(name)));
    // Two phones and nothing else.
    const { room } = await this.#context.rooms.getOrCreate(this.info.room, { maxParticipants: 2 });
    this.#room = room;
    const taken = await this.#context.calls.takeCall(caller, room.name, codecs, async (negotiated, early) => {
      const result = await dial(room.name, [negotiated.codec.name], {
        started: (callId) => {
          this.info.contactCallId = callId;
        },
        ringing: () => caller.ring(),
        // The callee's early media (183 with SDP) reaches the caller: our 183 with the answer, the two relayed.
        earlyMedia: () => {
          early().catch((error: unknown) => this.#log.warn({ err: error }, 'cannot give the caller early media'));
        },
      });
      if (result.outcome !== 'answered') {
        const status = result.call.status ?? 480;
        throw new ConfluxError(`the callee answered ${status}`, 480, status >= 400 && status < 700 && status !== 487 ? status : 480);
      }
    }, { relay: true, ...(trunk ? { trunk } : {}) });
    if (this.info.state === 'ended') return;
    this.info.state = 'active';
    this.info.codec = taken.codec;
    this.#log.info({ codec: taken.codec, contactCallId: this.info.contactCallId }, 'phone call answered');
  }

  ownsPhoneCall(callId: string): boolean {
    return callId === this.#caller.callId || callId === this.info.contactCallId;
  }

  #other(callId: string): string | null {
    return callId === this.#caller.callId ? this.info.contactCallId : this.#caller.callId;
  }

  /** A key on one phone is sent to the other (RFC 4733, or INFO as SipCallManager sends it). */
  phoneDtmf(callId: string, digit: string): void {
    const other = this.#other(callId);
    if (this.info.state !== 'active' || !other) return;
    this.#context.calls.sendDtmf(other, digit).catch((error: unknown) => this.#log.warn({ err: error, digit }, 'cannot send DTMF to the other phone'));
  }

  /** One phone held or resumed: the other is re-offered the mirrored direction (one holds: the other only hears). */
  phoneReoffered(callId: string, towardPhone: MediaDirection): void {
    const other = this.#other(callId);
    if (this.info.state !== 'active' || !other) return;
    this.#context.calls.reoffer(other, ANSWER_DIRECTION[towardPhone]).then(
      (direction) => this.#log.info({ direction }, 'hold carried to the other phone'),
      (error: unknown) => this.#log.warn({ err: error }, 'the other phone did not take the hold'),
    );
  }

  /** One phone's call ended: so does the other's. */
  phoneEnded(call: SipCallInfo): void {
    const side = call.id === this.#caller.callId ? 'caller' : 'callee';
    void this.end(call.endReason === 'remote-hangup' ? `${side}-hangup` : `${side}-${call.endReason ?? 'ended'}`);
  }

  /** Refuses the caller (before it is answered) with `error`'s status. */
  refuse(error: unknown): void {
    this.#caller.reject(error instanceof ConfluxError ? error.sipStatus : 500);
  }

  /** Ends both legs and the private room; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.info.state === 'ended') return;
    this.info.state = 'ended';
    this.info.endReason = reason;
    this.#log.info({ reason }, 'phone call ended');
    // Closing the room ends both phones' legs (BYE, or CANCEL/480 while they ring).
    if (this.#room && !this.#room.closed) this.#room.close('room-closed');
    else if (this.#caller.state !== 'ended') await this.#caller.terminate(reason === 'shutdown' ? 503 : 480).catch(() => undefined);
    this.safeEmit('ended', { ...this.info });
  }
}
