import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from '../logging/Logger.js';
import { BadRequestError, CapacityError, ConfluxError, InvalidStateError, NotFoundError, UnsupportedError } from '../errors.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import type { MediaSource, ProducerInfo } from '../signalling/SignallingMessages.js';
import type {
  JoinOptions, ParticipantEvents, ParticipantInfo, ProducerAppData, RemovalReason, TransportListenConfig,
} from './RoomTypes.js';

/** Bounds one client's footprint in the worker. */
const MAX_TRANSPORTS = 4;
const MAX_PRODUCERS = 8;
const MAX_CONSUMERS = 500;

interface ConsumerAppData extends types.AppData {
  participantId: string;
}

/**
 * Runs a worker call on parameters the client wrote: mediasoup rejects bad ones with TypeError (or its
 * own UnsupportedError), which are then the client's mistake, named as such. Anywhere else a TypeError is a
 * bug of ours and stays a 500.
 */
async function withClientParameters<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfluxError || !(error instanceof Error)) throw error;
    if (error instanceof TypeError) throw new BadRequestError(`${what}: ${error.message}`);
    if (error.name === 'UnsupportedError') throw new UnsupportedError(`${what}: ${error.message}`);
    throw error;
  }
}

/**
 * Someone in a room: a browser over WebRTC or a phone leg. Owns its transports, producers and
 * consumers; closing it closes them all in the worker.
 */
export class Participant extends TypedEmitter<ParticipantEvents> {
  readonly id = randomUUID();
  readonly identity: string;
  readonly displayName: string;
  readonly kind: 'webrtc' | 'sip';
  readonly attributes: Record<string, string>;
  readonly joinedAt = new Date();
  readonly transports = new Map<string, types.WebRtcTransport | types.PlainTransport>();
  readonly producers = new Map<string, types.Producer<ProducerAppData>>();
  readonly consumers = new Map<string, types.Consumer<ConsumerAppData>>();
  readonly #router: types.Router;
  readonly #logger: Logger;
  #closed = false;
  #handRaised = false;
  /** Creations under way, counted against the caps so that concurrent requests cannot overshoot them. */
  readonly #pending = { transports: 0, producers: 0, consumers: 0 };

  constructor(router: types.Router, options: JoinOptions, logger: Logger) {
    super();
    this.#router = router;
    this.identity = options.identity;
    this.displayName = options.displayName;
    this.kind = options.kind;
    this.attributes = { ...options.attributes };
    this.#logger = logger.child({ participantId: this.id, identity: this.identity });
  }

  get closed(): boolean {
    return this.#closed;
  }

  info(): ParticipantInfo {
    return {
      id: this.id,
      identity: this.identity,
      displayName: this.displayName,
      kind: this.kind,
      attributes: { ...this.attributes },
      producers: [...this.producers.values()].map(producerInfo),
      handRaised: this.#handRaised,
    };
  }

  /** Whether its hand is raised (to ask to speak). */
  get handRaised(): boolean {
    return this.#handRaised;
  }

  /** Raises or lowers its hand; told to the room (`hand`) only when it changes. */
  setHandRaised(raised: boolean): void {
    if (this.#closed || this.#handRaised === raised) return;
    this.#handRaised = raised;
    this.safeEmit('hand', raised);
  }

  /** Runs one creation of `what`, refused when those in place and under way would pass `max`. */
  async #reserve<T>(what: 'transports' | 'producers' | 'consumers', existing: number, max: number, create: () => Promise<T>): Promise<T> {
    if (existing + this.#pending[what] >= max) throw new CapacityError(`too many ${what}`);
    this.#pending[what] += 1;
    try {
      return await create();
    } finally {
      this.#pending[what] -= 1;
    }
  }

  /** Creates a WebRTC transport listening per the server's RTC config. */
  async createWebRtcTransport(listen: TransportListenConfig, direction: 'send' | 'recv', forceTcp = false) {
    this.#assertOpen();
    const portRange = { min: listen.minPort, max: listen.maxPort };
    const base = { ip: listen.listenIp, announcedAddress: listen.announcedAddress, portRange };
    const listenInfos: types.TransportListenInfo[] = [];
    if (!forceTcp) listenInfos.push({ protocol: 'udp', ...base });
    if (listen.enableTcp || forceTcp) listenInfos.push({ protocol: 'tcp', ...base });
    const transport = await this.#reserve('transports', this.transports.size, MAX_TRANSPORTS, () => this.#router.createWebRtcTransport({
      listenInfos,
      preferUdp: true,
      initialAvailableOutgoingBitrate: listen.initialAvailableOutgoingBitrate,
      appData: { participantId: this.id, direction },
    }));
    if (this.#closed) {
      transport.close();
      throw new InvalidStateError('participant left');
    }
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') {
        this.#logger.warn({ transportId: transport.id, state }, 'transport DTLS ended');
        transport.close();
      }
    });
    return transport;
  }

  /** Adds a transport created elsewhere (a phone leg's PlainTransport). */
  adoptTransport(transport: types.PlainTransport): void {
    this.#assertOpen();
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
  }

  getTransport(transportId: string): types.WebRtcTransport | types.PlainTransport {
    const transport = this.transports.get(transportId);
    if (!transport) throw new NotFoundError(`transport ${transportId} not found`);
    return transport;
  }

  async connectWebRtcTransport(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.getTransport(transportId);
    if (transport.type !== 'webrtc') throw new InvalidStateError('not a WebRTC transport');
    await withClientParameters('dtlsParameters', () => transport.connect({ dtlsParameters }));
  }

  async restartIce(transportId: string): Promise<types.IceParameters> {
    const transport = this.getTransport(transportId);
    if (transport.type !== 'webrtc') throw new InvalidStateError('not a WebRTC transport');
    return (transport as types.WebRtcTransport).restartIce();
  }

  /** Starts receiving a track from this participant. */
  async produce(
    transportId: string, kind: types.MediaKind, rtpParameters: types.RtpParameters, source: MediaSource,
  ): Promise<types.Producer<ProducerAppData>> {
    this.#assertOpen();
    const transport = this.getTransport(transportId);
    const producer = await this.#reserve('producers', this.producers.size, MAX_PRODUCERS, () => withClientParameters('rtpParameters',
      () => transport.produce<ProducerAppData>({ kind, rtpParameters, appData: { participantId: this.id, source } })));
    if (this.#closed) {
      producer.close();
      throw new InvalidStateError('participant left');
    }
    this.producers.set(producer.id, producer);
    producer.observer.once('close', () => this.producers.delete(producer.id));
    this.safeEmit('newproducer', producer);
    return producer;
  }

  /**
   * Mutes (pauses) or unmutes the producer named, or every producer of a kind, as a host does: the room is
   * told, the participant's own page included. 404 when there is none.
   */
  async mute(which: { producerId?: string | undefined; kind?: 'audio' | 'video' | undefined }, muted: boolean): Promise<void> {
    const targets = which.producerId !== undefined
      ? [this.getProducer(which.producerId)]
      : [...this.producers.values()].filter((producer) => producer.kind === which.kind);
    if (targets.length === 0) throw new NotFoundError(`participant has no ${which.kind} producer`);
    await Promise.all(targets.map((producer) => (muted ? producer.pause() : producer.resume())));
  }

  getProducer(producerId: string): types.Producer<ProducerAppData> {
    const producer = this.producers.get(producerId);
    if (!producer) throw new NotFoundError(`producer ${producerId} not found`);
    return producer;
  }

  /** Sends another participant's producer to this one; the consumer starts paused. */
  async consume(
    transportId: string, producer: types.Producer<ProducerAppData>, rtpCapabilities: types.RtpCapabilities, mid?: string,
  ): Promise<types.Consumer<ConsumerAppData>> {
    this.#assertOpen();
    if (producer.appData.participantId === this.id) throw new InvalidStateError('cannot consume own producer');
    const consumable = await withClientParameters('rtpCapabilities', async () => this.#router.canConsume({ producerId: producer.id, rtpCapabilities }));
    if (!consumable) throw new UnsupportedError(`cannot consume ${producer.kind} producer with the given rtpCapabilities`);
    const transport = this.getTransport(transportId);
    const consumer = await this.#reserve('consumers', this.consumers.size, MAX_CONSUMERS, () => withClientParameters('rtpCapabilities',
      () => transport.consume<ConsumerAppData>({
        producerId: producer.id, rtpCapabilities, paused: true, appData: { participantId: producer.appData.participantId },
        ...(mid !== undefined ? { mid } : {}),
      })));
    if (this.#closed) {
      consumer.close();
      throw new InvalidStateError('participant left');
    }
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.consumers.delete(consumer.id);
      if (!this.#closed) this.safeEmit('consumerclosed', consumer.id);
    });
    consumer.on('producerclose', () => consumer.close());
    consumer.on('transportclose', () => consumer.close());
    consumer.on('producerpause', () => this.safeEmit('consumerpaused', consumer.id));
    consumer.on('producerresume', () => this.safeEmit('consumerresumed', consumer.id));
    consumer.on('score', (score) => this.safeEmit('consumerscore', consumer.id, score.score, score.producerScore));
    consumer.on('layerschange', (layers) => this.safeEmit(
      'consumerlayerschanged', consumer.id, layers?.spatialLayer ?? null, layers?.temporalLayer ?? null,
    ));
    return consumer;
  }

  getConsumer(consumerId: string): types.Consumer<ConsumerAppData> {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new NotFoundError(`consumer ${consumerId} not found`);
    return consumer;
  }

  /** Removes the participant's media from the worker; idempotent. */
  close(reason: RemovalReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const transport of [...this.transports.values()]) transport.close();
    this.#logger.debug({ reason }, 'participant closed');
    this.safeEmit('close', reason);
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('participant left');
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.#logger.error({ event, err: error }, 'participant listener threw');
  }
}

/** Public description of a producer. */
export function producerInfo(producer: types.Producer<ProducerAppData>): ProducerInfo {
  return { id: producer.id, kind: producer.kind, source: producer.appData.source, paused: producer.paused };
}
