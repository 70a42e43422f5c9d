import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { createLogger, type Logger } from '../../server/logging/Logger.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { Room } from '../../server/rooms/Room.js';
import type { ProducerAppData } from '../../server/rooms/RoomTypes.js';
import { InvalidStateError, NotFoundError } from '../../server/errors.js';
import { AUDIO_LEVEL_URI } from '../media/AudioLevelStamp.js';
import { MixerThread } from '../media/MixerThread.js';
import type { MixerSourceActivity, MixerSourceSpec, MixerThreadOptions } from '../media/mixerProtocol.js';
import type { DtmfEvent } from '../media/DtmfDetector.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import type { NegotiatedAudio, PhoneCodec } from './PhoneSdp.js';

/** The mixer source's SRTP keys of a negotiation: none for plain RTP. */
function srtpSpec(negotiated: NegotiatedAudio): Pick<MixerSourceSpec, 'srtp'> {
  const { srtp } = negotiated;
  return srtp ? { srtp: { suite: srtp.suite, inboundKey: srtp.inboundKey, outboundKey: srtp.outboundKey } } : {};
}

const LOOPBACK = '127.0.0.1';
/** One-byte header extension id of the audio level on relayed phone packets (only mediasoup reads it). */
const AUDIO_LEVEL_EXTENSION_ID = 1;

export type RoomAudioBridgeEvents = {
  /** A key press finished on a phone leg (RFC 4733 end of event). */
  dtmf: [legId: string, digit: string, durationMs: number];
  /**
   * `mixer-exit`: the mixer thread died; `room-closed`: its room ended; `media-restart`: the router of a relay
   * bridge's room died with its worker; `released`: closed by its owner.
   */
  close: [reason: BridgeCloseReason];
};

export type BridgeCloseReason = 'mixer-exit' | 'room-closed' | 'media-restart' | 'released';

interface PhoneLeg {
  negotiated: NegotiatedAudio;
  /** The mediasoup side: where the phone's relayed audio becomes a producer browsers consume. */
  transport: types.PlainTransport | null;
  producer: types.Producer<ProducerAppData> | null;
  participant: Participant | null;
  /** Whether the mixer currently sends this leg its mix-minus. */
  sending: boolean;
  /** The leg hears prompts only (not yet admitted). */
  isolated: boolean;
}

interface RoomFeed {
  transport: types.PlainTransport;
  consumer: types.Consumer;
  sourceId: string;
  /** The codec's name as the mixer knows it (e.g. PCMU). */
  codec: string;
}

/**
 * The MCU side of one room. Phone legs are sources and legs of a mixer thread: each phone hears the
 * mix of everyone else (browsers consumed out of mediasoup, other phones straight from the mixer),
 * and each phone's own audio is relayed untranscoded into a mediasoup producer that browsers consume.
 *
 * A relay bridge (a two-party call whose ends share a codec) mixes nothing: on a mixer thread shared
 * with other such calls, the phone hears the other party's packets as they are (`RtpRelayLeg`), and
 * nothing is decoded or encoded either way.
 */
export class RoomAudioBridge extends TypedEmitter<RoomAudioBridgeEvents> {
  readonly #room: Room;
  readonly #mixer: MixerThread;
  readonly #mediaIp: string;
  readonly #legs = new Map<string, PhoneLeg>();
  /** Browser audio producers feeding the mixer, by producer id. */
  readonly #feeds = new Map<string, Promise<RoomFeed | null>>();
  /** The feeds set up so far, by producer id (a relay bridge points its phones at them). */
  readonly #readyFeeds = new Map<string, RoomFeed>();
  readonly #logger: Logger;
  readonly #detach: Array<() => void> = [];
  /** Mix-minus streams of participants whose own audio is a room producer (browser SIP clients), by mix id: where each is produced. */
  readonly #mixes = new Map<string, types.PlainTransport>();
  /** The mixer is shared with other relay bridges: closing this bridge removes only what it added. */
  readonly #relay: boolean;
  /** Takes the room's own mixer back once the bridge has emptied it (a spare for another room); none: it is closed. */
  readonly #release: ((mixer: MixerThread) => void) | null;
  #closed = false;

  private constructor(room: Room, mixer: MixerThread, mediaIp: string, relay: boolean, release: ((mixer: MixerThread) => void) | null = null) {
    super();
    this.#release = release;
    this.#room = room;
    this.#mixer = mixer;
    this.#mediaIp = mediaIp;
    this.#relay = relay;
    this.#logger = createLogger('room-audio-bridge', { room: room.name });
    const onDtmf = (sourceId: string, event: DtmfEvent) => this.#onDtmf(sourceId, event);
    const onExit = () => this.close('mixer-exit');
    mixer.on('dtmf', onDtmf);
    mixer.on('exit', onExit);
    this.#detach.push(() => mixer.off('dtmf', onDtmf), () => mixer.off('exit', onExit));
    const onNewProducer = (participantId: string, producer: types.Producer<ProducerAppData>) => {
      if (this.#isRoomAudio(participantId, producer)) this.#feed(producer);
    };
    const onProducerClosed = (_participantId: string, producerId: string) => void this.#unfeed(producerId);
    const onRoomClose = () => this.close('room-closed');
    const onMediaRestart = () => this.#onMediaRestart();
    room.once('mediarestart', onMediaRestart);
    this.#detach.push(() => room.off('mediarestart', onMediaRestart));
    // A REST mute pauses the phone's producer; other phones hear it through the mixer, so mute it there too.
    const onPaused = (_participantId: string, producerId: string) => this.#mirrorMute(producerId, true);
    const onResumed = (_participantId: string, producerId: string) => this.#mirrorMute(producerId, false);
    room.on('producerpaused', onPaused);
    room.on('producerresumed', onResumed);
    this.#detach.push(() => room.off('producerpaused', onPaused), () => room.off('producerresumed', onResumed));
    room.on('newproducer', onNewProducer);
    room.on('producerclosed', onProducerClosed);
    room.once('close', onRoomClose);
    this.#detach.push(() => room.off('newproducer', onNewProducer), () => room.off('producerclosed', onProducerClosed),
      () => room.off('close', onRoomClose));
  }

  /** Starts the room's mixer and feeds it every browser audio producer already in the room. */
  static async create(room: Room, mediaIp: string, mixerOptions: Omit<MixerThreadOptions, 'bindAddress'> = {}): Promise<RoomAudioBridge> {
    return RoomAudioBridge.onMixer(room, mediaIp, await RoomAudioBridge.startMixer(mixerOptions));
  }

  /** Starts a mixer thread for one room's bridge (ahead of time: a spare for the next room). */
  static startMixer(mixerOptions: Omit<MixerThreadOptions, 'bindAddress'> = {}): Promise<MixerThread> {
    return MixerThread.start({ ...mixerOptions, bindAddress: LOOPBACK });
  }

  /**
   * The room's bridge on `mixer`, a thread of its own (from `startMixer`). Closed, the bridge closes it, or
   * with `release` hands it back emptied of its sources and legs (unless the thread died).
   */
  static onMixer(room: Room, mediaIp: string, mixer: MixerThread, release?: (mixer: MixerThread) => void): RoomAudioBridge {
    return RoomAudioBridge.#attach(new RoomAudioBridge(room, mixer, mediaIp, false, release ?? null));
  }

  /**
   * A relay bridge on `mixer`, a thread shared with other relay bridges (see `startRelayMixer`): for a room
   * of one phone and one party sharing its codec, whose audio is forwarded both ways untranscoded.
   */
  static relay(room: Room, mediaIp: string, mixer: MixerThread): RoomAudioBridge {
    return RoomAudioBridge.#attach(new RoomAudioBridge(room, mixer, mediaIp, true));
  }

  /** Starts a mixer thread for relay bridges to share; it binds like a room's. */
  static async startRelayMixer(mixerOptions: Omit<MixerThreadOptions, 'bindAddress'> = {}): Promise<MixerThread> {
    const mixer = await RoomAudioBridge.startMixer(mixerOptions);
    // Every relay bridge on it listens for its DTMF and its exit.
    mixer.setMaxListeners(0);
    return mixer;
  }

  static #attach(bridge: RoomAudioBridge): RoomAudioBridge {
    const room = bridge.#room;
    for (const participant of room.participants) {
      for (const producer of participant.producers.values()) {
        if (bridge.#isRoomAudio(participant.id, producer)) bridge.#feed(producer);
      }
    }
    return bridge;
  }

  /** Whether this bridge relays (untranscoded, on a shared thread) rather than mixes. */
  get relays(): boolean {
    return this.#relay;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Phone legs and mixes: the bridge is unused without any. */
  get legCount(): number {
    return this.#legs.size + this.#mixes.size;
  }

  get mixer(): MixerThread {
    return this.#mixer;
  }

  /**
   * The room's router died with its worker: every transport of the bridge went with it. A mixing bridge keeps
   * its thread, where the phones' sockets and mixes live (they keep hearing each other): its feeds are
   * dropped (browsers rejoin and produce again), and its phone legs wait to be admitted again on the new
   * router. A relay bridge's call cannot go on without its other party's media: it closes.
   */
  #onMediaRestart(): void {
    if (this.#relay) {
      this.close('media-restart');
      return;
    }
    for (const producerId of [...this.#feeds.keys()]) void this.#unfeed(producerId);
    for (const leg of this.#legs.values()) {
      leg.transport = null;
      leg.producer = null;
      leg.participant = null;
    }
    this.#logger.warn({ legs: this.#legs.size }, 'room media restarting: phone legs wait for the new router');
  }

  /** Phone producers already reach the other phones through the mixer: only non-phone audio is fed in. */
  #isRoomAudio(participantId: string, producer: types.Producer<ProducerAppData>): boolean {
    return producer.kind === 'audio' && !this.#legs.has(participantId)
      && [...this.#legs.values()].every((leg) => leg.participant?.id !== participantId);
  }

  /** Consumes a room producer into a mixer source over a loopback PlainTransport. */
  #feed(producer: types.Producer<ProducerAppData>): void {
    if (this.#feeds.has(producer.id) || this.#closed) return;
    const feeding = (async (): Promise<RoomFeed | null> => {
      const transport = await this.#room.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: LOOPBACK }, rtcpMux: true, comedia: false,
      });
      try {
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: this.#room.router.rtpCapabilities, paused: true });
        const codec = consumer.rtpParameters.codecs[0]!;
        const sourceId = `room:${producer.id}`;
        const codecName = codec.mimeType.split('/')[1]!;
        const port = await this.#mixer.addSource({
          sourceId, codec: codecName, payloadType: codec.payloadType,
          clockRate: codec.clockRate, channels: codec.channels ?? 1, ...(this.#relay ? { mixed: false } : {}),
        });
        await transport.connect({ ip: LOOPBACK, port });
        await consumer.resume();
        const feed = { transport, consumer, sourceId, codec: codecName };
        this.#readyFeeds.set(producer.id, feed);
        await this.#wireRelays();
        return feed;
      } catch (error) {
        transport.close();
        throw error;
      }
    })().catch((error: unknown) => {
      if (!this.#closed) this.#logger.warn({ err: error, producerId: producer.id }, 'cannot feed producer to the mixer');
      return null;
    });
    this.#feeds.set(producer.id, feeding);
  }

  async #unfeed(producerId: string): Promise<void> {
    const feeding = this.#feeds.get(producerId);
    if (!feeding) return;
    this.#feeds.delete(producerId);
    const feed = await feeding;
    this.#readyFeeds.delete(producerId);
    feed?.transport.close();
    await this.#mixer.removeSource(`room:${producerId}`).catch(() => false);
    await this.#wireRelays();
  }

  /**
   * Points each sending phone leg of a relay bridge at the other party: the browser's feed while there is
   * one, else the other phone (two phones after a transfer). A source in another codec is not relayed (the
   * call must not have been set up that way).
   */
  async #wireRelays(): Promise<void> {
    if (!this.#relay || this.#closed) return;
    const feed = this.#readyFeeds.values().next().value;
    for (const [legId, leg] of this.#legs) {
      if (!leg.sending) continue;
      const otherPhone = [...this.#legs].find(([id, other]) => id !== legId && other.participant !== null);
      const source = feed ? { sourceId: feed.sourceId, codec: feed.codec }
        : otherPhone ? { sourceId: otherPhone[0], codec: otherPhone[1].negotiated.codec.name } : null;
      if (source && source.codec.toLowerCase() !== leg.negotiated.codec.name.toLowerCase()) {
        this.#logger.warn({ legId, other: source.codec, phone: leg.negotiated.codec.name }, 'cannot relay between different codecs');
        continue;
      }
      await this.#mixer.setRelaySource(legId, source?.sourceId ?? null).catch((error: unknown) => {
        if (!this.#closed) this.#logger.warn({ err: error, legId }, 'cannot point the relay');
      });
    }
  }

  /**
   * Opens the phone's RTP socket on the media interface and returns its port (for our SDP). The phone
   * is heard by nobody and hears nothing until `admit`. With SDES keys, the socket takes SRTP only and
   * everything sent from it is SRTP.
   */
  async openPhone(legId: string, negotiated: NegotiatedAudio): Promise<number> {
    if (this.#closed) throw new InvalidStateError('room audio bridge is closed');
    if (this.#legs.has(legId)) throw new InvalidStateError(`leg ${legId} exists`);
    const leg: PhoneLeg = { negotiated, transport: null, producer: null, participant: null, sending: false, isolated: false };
    this.#legs.set(legId, leg);
    try {
      const port = await this.#mixer.addSource({
        sourceId: legId, codec: negotiated.codec.name, payloadType: negotiated.codec.payloadType,
        clockRate: negotiated.codec.clockRate, channels: negotiated.codec.channels,
        ...(negotiated.telephoneEvent ? { dtmfPayloadType: negotiated.telephoneEvent.payloadType } : {}),
        bindAddress: this.#mediaIp, latch: true, ...srtpSpec(negotiated), ...(this.#relay ? { mixed: false } : {}),
      });
      await this.#mixer.muteSource(legId, true);
      return port;
    } catch (error) {
      this.#legs.delete(legId);
      throw error;
    }
  }

  /**
   * Puts an opened phone into the room as `participant`: its audio becomes a producer (relayed as is,
   * no transcoding) and it starts hearing the mix-minus of the room.
   */
  async admit(legId: string, participant: Participant): Promise<types.Producer<ProducerAppData>> {
    const leg = this.#leg(legId);
    const { codec } = leg.negotiated;
    const transport = await this.#room.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: LOOPBACK }, rtcpMux: true, comedia: true,
    });
    participant.adoptTransport(transport);
    leg.transport = transport;
    leg.participant = participant;
    const ssrc = randomInt(1, 2 ** 31);
    // The relay stamps G.711 packets with their audio level, so phones take part in active-speaker detection.
    const stampsLevel = codec.name === 'PCMU' || codec.name === 'PCMA';
    const producer = await participant.produce(transport.id, 'audio', {
      codecs: [{
        mimeType: `audio/${codec.name}`, payloadType: codec.payloadType, clockRate: codec.clockRate,
        ...(codec.name === 'opus' ? { channels: 2 } : {}),
      }],
      encodings: [{ ssrc }],
      ...(stampsLevel ? { headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: AUDIO_LEVEL_EXTENSION_ID }] } : {}),
    }, 'phone');
    leg.producer = producer;
    await this.#mixer.setForward(legId, {
      ip: LOOPBACK, port: transport.tuple.localPort, ssrc, ...(stampsLevel ? { audioLevelExtensionId: AUDIO_LEVEL_EXTENSION_ID } : {}),
    });
    await this.setDirection(legId, leg.negotiated);
    return producer;
  }

  /**
   * Applies a (re-)negotiation: a new codec re-creates the leg's decode and encode paths on the same
   * socket; new SDES keys re-key it; hold stops our sending, resume restarts it.
   */
  async setDirection(legId: string, negotiated: NegotiatedAudio): Promise<void> {
    const leg = this.#leg(legId);
    const before = leg.negotiated;
    leg.negotiated = negotiated;
    if (before.codec.name !== negotiated.codec.name || before.codec.payloadType !== negotiated.codec.payloadType
      || before.telephoneEvent?.payloadType !== negotiated.telephoneEvent?.payloadType) {
      if (leg.producer) throw new InvalidStateError('the codec of an admitted phone cannot change');
      await this.#mixer.updateSource({
        sourceId: legId, codec: negotiated.codec.name, payloadType: negotiated.codec.payloadType,
        clockRate: negotiated.codec.clockRate, channels: negotiated.codec.channels,
        ...(negotiated.telephoneEvent ? { dtmfPayloadType: negotiated.telephoneEvent.payloadType } : {}),
        ...srtpSpec(negotiated),
      });
      if (leg.sending) {
        await this.#mixer.removeLeg(legId);
        leg.sending = false;
      }
    } else if (negotiated.srtp && (before.srtp?.suite !== negotiated.srtp.suite || before.srtp.inboundKey !== negotiated.srtp.inboundKey
      || before.srtp.outboundKey !== negotiated.srtp.outboundKey)) {
      // A dial-out learns the phone's key from the answer; a re-INVITE may bring new keys.
      await this.#mixer.updateSource({
        sourceId: legId, codec: negotiated.codec.name, payloadType: negotiated.codec.payloadType,
        clockRate: negotiated.codec.clockRate, channels: negotiated.codec.channels,
        ...(negotiated.telephoneEvent ? { dtmfPayloadType: negotiated.telephoneEvent.payloadType } : {}),
        ...srtpSpec(negotiated),
      });
    }
    const shouldSend = leg.participant !== null && (negotiated.localDirection === 'sendrecv' || negotiated.localDirection === 'sendonly');
    if (leg.sending && !shouldSend) {
      await this.#mixer.removeLeg(legId);
      leg.sending = false;
    } else if (!leg.sending && shouldSend) {
      await this.#addMixerLeg(legId, negotiated);
      leg.sending = true;
    } else if (leg.sending && shouldSend && leg.isolated) {
      // Admitted after a PIN stage: the leg that only played prompts now hears the room.
      await this.#mixer.setLegIsolated(legId, false);
      leg.isolated = false;
    }
    const hearable = leg.participant !== null && negotiated.localDirection !== 'inactive' && negotiated.localDirection !== 'sendonly';
    await this.#mixer.muteSource(legId, !hearable);
  }

  async #addMixerLeg(legId: string, negotiated: NegotiatedAudio): Promise<void> {
    const { codec } = negotiated;
    await this.#mixer.addLeg({
      legId, codec: codec.name, payloadType: codec.payloadType, clockRate: codec.clockRate, ptime: negotiated.ptime,
      ownSourceIds: [legId], destination: { ip: negotiated.remote.address, port: negotiated.remote.port },
      ...(negotiated.telephoneEvent ? { dtmfPayloadType: negotiated.telephoneEvent.payloadType } : {}),
      ...(this.#relay ? { relayFrom: null } : {}),
    });
    if (this.#relay) {
      // Marked sending first: the wiring only points legs that send.
      const leg = this.#legs.get(legId);
      if (leg) leg.sending = true;
      await this.#wireRelays();
    }
  }

  /**
   * Plays a prompt (8 kHz PCM; null plays nothing) to a phone. Before admission the phone gets a leg of
   * its own that hears only prompts, not the room.
   */
  async playPrompt(legId: string, samples: Int16Array | null): Promise<void> {
    const leg = this.#leg(legId);
    if (this.#relay) throw new InvalidStateError('a relayed call plays no prompts');
    if (!leg.sending) {
      await this.#addMixerLeg(legId, leg.negotiated);
      leg.sending = true;
      if (leg.participant === null) {
        await this.#mixer.setLegIsolated(legId, true);
        leg.isolated = true;
      }
    }
    if (samples) await this.#mixer.playPrompt(legId, samples, 8000);
  }

  #mirrorMute(producerId: string, muted: boolean): void {
    for (const [legId, leg] of this.#legs) {
      if (leg.producer?.id !== producerId) continue;
      const held = leg.negotiated.localDirection === 'inactive' || leg.negotiated.localDirection === 'sendonly';
      this.#mixer.muteSource(legId, muted || held).catch(() => undefined);
    }
  }

  /** Sends DTMF key presses to a phone as RFC 4733 events. */
  async sendDtmf(legId: string, digits: string): Promise<void> {
    const leg = this.#leg(legId);
    if (!leg.sending) throw new InvalidStateError('the call is not sending media (on hold or not admitted)');
    if (!leg.negotiated.telephoneEvent) throw new InvalidStateError('the phone did not negotiate telephone-event');
    for (const digit of digits) await this.#mixer.sendDtmf(legId, digit);
  }

  /** Per leg: packets and idle time, for media timeouts. */
  async activity(): Promise<Map<string, MixerSourceActivity>> {
    const all = await this.#mixer.sourceActivity();
    return new Map(all.filter((entry) => this.#legs.has(entry.sourceId)).map((entry) => [entry.sourceId, entry]));
  }

  /** The leg's audio path as one line (decode → mix-minus → encode → RTP). */
  describeLeg(legId: string): Promise<string> {
    this.#leg(legId);
    return this.#mixer.describeLeg(legId);
  }

  /**
   * A mix-minus of the room for a participant whose own audio is already a room producer (a browser SIP
   * client, whose producer the bridge feeds to the mixer like any browser's): the mix of everyone but
   * `ownProducerId`, encoded in `codec`, as a producer of the room's router that no participant sees, for
   * that participant to consume. It counts as a leg of the bridge until `closeMix`.
   */
  async addMix(mixId: string, ownProducerId: string, codec: PhoneCodec): Promise<types.Producer<ProducerAppData>> {
    if (this.#relay) throw new InvalidStateError('a relay bridge mixes nothing');
    if (this.#closed) throw new InvalidStateError('room audio bridge is closed');
    if (this.#mixes.has(mixId) || this.#legs.has(mixId)) throw new InvalidStateError(`leg ${mixId} exists`);
    // The mixer sends from its shared socket: the transport learns that address from the first packet.
    const transport = await this.#room.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: LOOPBACK }, rtcpMux: true, comedia: true });
    this.#mixes.set(mixId, transport);
    try {
      const ssrc = randomInt(1, 2 ** 31);
      const producer = await transport.produce<ProducerAppData>({
        kind: 'audio',
        rtpParameters: {
          codecs: [{ mimeType: `audio/${codec.name}`, payloadType: codec.payloadType, clockRate: codec.clockRate, ...(codec.name === 'opus' ? { channels: 2 } : {}) }],
          encodings: [{ ssrc }],
        },
        appData: { participantId: `mix:${mixId}`, source: 'mic' },
      });
      await this.#mixer.addLeg({
        legId: mixId, codec: codec.name, payloadType: codec.payloadType, clockRate: codec.clockRate,
        ownSourceIds: [`room:${ownProducerId}`], destination: { ip: LOOPBACK, port: transport.tuple.localPort }, ssrc,
      });
      return producer;
    } catch (error) {
      this.#mixes.delete(mixId);
      transport.close();
      throw error;
    }
  }

  /** Removes a mix (`addMix`). Returns the legs left. */
  async closeMix(mixId: string): Promise<number> {
    const transport = this.#mixes.get(mixId);
    if (!transport) return this.legCount;
    this.#mixes.delete(mixId);
    transport.close();
    if (!this.#closed) await this.#mixer.removeLeg(mixId).catch(() => false);
    return this.legCount;
  }

  /** Removes a phone leg: its socket, mixer leg and producer go. Returns the legs left. */
  async closePhone(legId: string): Promise<number> {
    const leg = this.#legs.get(legId);
    if (!leg) return this.legCount;
    this.#legs.delete(legId);
    leg.transport?.close();
    if (!this.#closed) {
      await this.#mixer.removeLeg(legId).catch(() => false);
      await this.#mixer.removeSource(legId).catch(() => false);
      await this.#wireRelays();
    }
    return this.legCount;
  }

  #leg(legId: string): PhoneLeg {
    const leg = this.#legs.get(legId);
    if (!leg) throw new NotFoundError(`no phone leg ${legId} in room ${this.#room.name}`);
    return leg;
  }

  #onDtmf(sourceId: string, event: DtmfEvent): void {
    if (event.type === 'end' && this.#legs.has(sourceId)) this.safeEmit('dtmf', sourceId, event.digit, event.durationMs ?? 0);
  }

  /** Stops the mixer (a relay bridge: its own sources and legs on the shared one) and every feed. */
  close(reason: BridgeCloseReason = 'released'): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#detach.splice(0)) off();
    const mixer = this.#mixer;
    // A shared thread, or one handed back for another room, keeps running: what this bridge added goes.
    const kept = reason !== 'mixer-exit' && (this.#relay || this.#release !== null);
    const removals: Array<Promise<unknown>> = [];
    for (const feeding of this.#feeds.values()) {
      removals.push(feeding.then((feed) => {
        feed?.transport.close();
        return feed && kept ? mixer.removeSource(feed.sourceId) : undefined;
      }).catch(() => false));
    }
    this.#feeds.clear();
    this.#readyFeeds.clear();
    for (const [legId, leg] of this.#legs) {
      leg.transport?.close();
      if (kept) removals.push(mixer.removeLeg(legId).catch(() => false), mixer.removeSource(legId).catch(() => false));
    }
    this.#legs.clear();
    for (const [mixId, transport] of this.#mixes) {
      transport.close();
      if (kept) removals.push(mixer.removeLeg(mixId).catch(() => false));
    }
    this.#mixes.clear();
    if (!this.#relay) {
      const release = this.#release;
      if (kept && release) void Promise.all(removals).then(() => release(mixer));
      else void mixer.close();
    }
    this.safeEmit('close', reason);
  }
}
