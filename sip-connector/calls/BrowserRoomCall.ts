import { randomBytes } from 'node:crypto';
import { InvalidStateError } from '../../server/errors.js';
import type { Logger } from '../../server/logging/Logger.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { Room } from '../../server/rooms/Room.js';
import type { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import type { TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import { MIXED_BROWSER_CODECS, newCallInfo, type GatewayCallEvents, type GatewayCallInfo } from './GatewayCall.js';
import { refuseCaller } from './browserLeg.js';
import { identitySafe } from './identitySafe.js';
import type { RoomAudioBridge } from './RoomAudioBridge.js';
import { removalToEndReason, type SipCallManager } from './SipCallManager.js';
import { WebRtcMediaLeg } from './WebRtcMediaLeg.js';
import { readWebRtcSdp, type WebRtcDescription } from './WebRtcSdp.js';

export interface BrowserRoomCallContext {
  rooms: RoomRegistry;
  calls: SipCallManager;
  listen: TransportListenConfig;
  logger: Logger;
}

/**
 * A browser SIP client's call into a room (a dispatch rule's). It joins the room as a `sip` participant with
 * a WebRTC media leg: its audio is an ordinary producer of the room (browsers consume it, the room's mixer
 * feeds it to the phones), and it hears one stream, the room's mix-minus (everyone but itself), as phones do.
 * Hang-up, kick and room close end it; one `end(reason)`.
 */
export class BrowserRoomCall extends TypedEmitter<GatewayCallEvents> {
  readonly info: GatewayCallInfo;
  readonly #caller: IncomingCall;
  readonly #context: BrowserRoomCallContext;
  readonly #log: Logger;
  readonly #mixId = `mix-${randomBytes(6).toString('hex')}`;
  #participant: Participant | null = null;
  #leg: WebRtcMediaLeg | null = null;
  #bridge: RoomAudioBridge | null = null;
  #onBridgeClose: ((reason: string) => void) | null = null;

  constructor(caller: IncomingCall, from: string, room: string, context: BrowserRoomCallContext) {
    super();
    this.#caller = caller;
    this.#context = context;
    this.info = newCallInfo(caller.callId, from, `room:${room}`, room);
    this.#log = context.logger.child({ callId: caller.callId, room });
  }

  get #ended(): boolean {
    return this.info.state === 'ended';
  }

  /** Joins the room, connects the browser's media and the room's mix for it, then answers. */
  async start(offer: WebRtcDescription, user: string, callerName: string): Promise<void> {
    const caller = this.#caller;
    caller.once('failed', () => void this.end('cancelled'));
    caller.once('ended', (reason) => void this.end(reason === 'remote-bye' ? 'caller-hangup' : reason));
    caller.offerHandler = (sdp) => this.#onReoffer(sdp);
    const codec = WebRtcMediaLeg.pickCodec(offer, MIXED_BROWSER_CODECS);
    const { room } = await this.#context.rooms.getOrCreate(this.info.room);
    if (this.#ended) return;
    const participant = room.join({
      identity: `sip-user-${identitySafe(user)}-${randomBytes(4).toString('hex')}`, displayName: callerName, kind: 'sip',
      attributes: { 'sip.callId': caller.callId, 'sip.from': this.info.from, 'sip.direction': 'inbound', 'sip.media': 'webrtc' },
    });
    this.#participant = participant;
    participant.once('close', (reason) => void this.end(removalToEndReason(reason)));
    const leg = await WebRtcMediaLeg.answering(participant, this.#context.listen, offer, codec);
    this.#leg = leg;
    const bridge = await this.#mixOf(room);
    const own = [...participant.producers.values()].find((producer) => producer.kind === 'audio');
    if (!own) throw new InvalidStateError('the browser sends no audio');
    const mix = await bridge.addMix(this.#mixId, own.id, leg.codec);
    if (this.#ended) return;
    await leg.consume(mix);
    if (this.#ended) return;
    caller.answer(leg.answer());
    this.info.state = 'active';
    this.info.codec = leg.codec.name;
    this.#log.info({ codec: leg.codec.name, participantId: participant.id }, 'browser joined the room');
  }

  /** The room's mixing bridge, watched: a mixer that dies leaves the browser without the room's audio. */
  async #mixOf(room: Room): Promise<RoomAudioBridge> {
    const bridge = await this.#context.calls.roomBridge(room);
    this.#bridge = bridge;
    this.#onBridgeClose = (reason) => {
      if (reason === 'mixer-exit') void this.end('media-failure');
    };
    bridge.once('close', this.#onBridgeClose);
    return bridge;
  }

  /** Hold and resume from the browser: what it says of receiving pauses or resumes its mix. */
  async #onReoffer(sdp: string): Promise<string | undefined> {
    const leg = this.#leg;
    if (!leg || this.info.state !== 'active') return this.#caller.localSdp;
    try {
      const offer = readWebRtcSdp(sdp);
      leg.codecIn(offer);
      await leg.reoffered(offer);
      return leg.answer();
    } catch {
      return undefined;
    }
  }

  /** Refuses the browser (before it is answered) with `error`'s status and a Warning saying why. */
  refuse(error: unknown): void {
    refuseCaller(this.#caller, error);
  }

  /** Leaves the room and ends the browser's call; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.#ended) return;
    this.info.state = 'ended';
    this.info.endReason = reason;
    this.#log.info({ reason }, 'browser left the room');
    if (this.#caller.state !== 'ended') await this.#caller.terminate(reason === 'shutdown' ? 503 : 480).catch(() => undefined);
    this.#leg?.close();
    this.#leg = null;
    const bridge = this.#bridge;
    if (bridge && this.#onBridgeClose) bridge.off('close', this.#onBridgeClose);
    if (bridge && !bridge.closed && await bridge.closeMix(this.#mixId) === 0) bridge.close();
    this.#participant?.close('left');
    this.safeEmit('ended', { ...this.info });
  }
}
