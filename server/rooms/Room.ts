import type { types } from 'mediasoup';
import { createLogger, type Logger } from '../logging/Logger.js';
import { CapacityError, InvalidStateError, NotFoundError } from '../errors.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import { Participant } from './Participant.js';
import type { JoinOptions, ProducerAppData, RemovalReason, RoomEvents, RoomInfo, RoomOptions, RoomSeat } from './RoomTypes.js';

/**
 * A conference: one mediasoup Router (on one worker) and the participants in it. Tells the outside
 * through events; closes itself once empty for the grace period.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly name: string;
  readonly router: types.Router;
  readonly createdAt = new Date();
  readonly options: RoomOptions;
  readonly #participants = new Map<string, Participant>();
  readonly #speakerObserver: types.ActiveSpeakerObserver;
  readonly #logger: Logger;
  #emptyTimer: NodeJS.Timeout | undefined;
  /** Seats kept for those on their way in: callers at a PIN prompt, dial-outs still ringing. */
  #seats = 0;
  #closed = false;

  constructor(name: string, router: types.Router, speakerObserver: types.ActiveSpeakerObserver, options: RoomOptions) {
    super();
    this.name = name;
    this.router = router;
    this.options = options;
    this.#speakerObserver = speakerObserver;
    this.#logger = createLogger('room', { roomId: name });
    speakerObserver.on('dominantspeaker', ({ producer }) => {
      this.safeEmit('activespeaker', (producer.appData as ProducerAppData).participantId);
    });
    router.observer.once('close', () => this.close());
    this.#armEmptyTimer();
  }

  /** Creates the router and observers for a room. */
  static async create(
    name: string, createRouter: () => Promise<types.Router>, options: RoomOptions,
  ): Promise<Room> {
    const router = await createRouter();
    const speakerObserver = await router.createActiveSpeakerObserver({ interval: 300 });
    return new Room(name, router, speakerObserver, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get participants(): Participant[] {
    return [...this.#participants.values()];
  }

  getParticipant(participantId: string): Participant {
    const participant = this.#participants.get(participantId);
    if (!participant) throw new NotFoundError(`participant ${participantId} not found in room ${this.name}`);
    return participant;
  }

  /** Finds a producer of any participant. */
  getProducer(producerId: string): types.Producer<ProducerAppData> {
    for (const participant of this.#participants.values()) {
      const producer = participant.producers.get(producerId);
      if (producer) return producer;
    }
    throw new NotFoundError(`producer ${producerId} not found in room ${this.name}`);
  }

  info(): RoomInfo {
    return {
      name: this.name,
      createdAt: this.createdAt.toISOString(),
      numParticipants: this.#participants.size,
      emptyTimeoutSeconds: this.options.emptyTimeoutSeconds,
      maxParticipants: this.options.maxParticipants,
    };
  }

  /**
   * Adds a participant, in the seat kept for it when one is given. An identity already in the room is
   * replaced (a reconnecting client).
   */
  join(options: JoinOptions, seat?: RoomSeat): Participant {
    if (this.#closed) throw new InvalidStateError(`room ${this.name} is closed`);
    for (const other of this.#participants.values()) {
      if (other.identity === options.identity) other.close('duplicate-identity');
    }
    const ownSeat = seat?.held === true ? 1 : 0;
    if (this.#participants.size + this.#seats - ownSeat >= this.options.maxParticipants) {
      throw new CapacityError(`room ${this.name} is full`);
    }
    const participant = new Participant(this.router, options, this.#logger);
    this.#participants.set(participant.id, participant);
    clearTimeout(this.#emptyTimer);
    participant.on('newproducer', (producer) => this.#onNewProducer(participant, producer));
    participant.once('close', (reason) => this.#onParticipantClosed(participant, reason));
    this.#logger.info({ participantId: participant.id, identity: participant.identity, kind: participant.kind },
      'participant joined');
    this.safeEmit('participantjoined', participant.info());
    seat?.release();
    return participant;
  }

  /**
   * Keeps a place for someone on the way in who is not a participant yet (a caller answered before a PIN
   * prompt, a dial-out still ringing): it counts against `maxParticipants`, so a call is refused before
   * it is answered rather than after, and keeps the empty room open until it is taken or released.
   */
  reserveSeat(): RoomSeat {
    if (this.#closed) throw new InvalidStateError(`room ${this.name} is closed`);
    if (this.#participants.size + this.#seats >= this.options.maxParticipants) throw new CapacityError(`room ${this.name} is full`);
    this.#seats += 1;
    clearTimeout(this.#emptyTimer);
    let held = true;
    return {
      get held() {
        return held;
      },
      release: () => {
        if (!held) return;
        held = false;
        this.#seats -= 1;
        this.#armEmptyTimer();
      },
    };
  }

  /** Removes a participant (REST kick, leave). */
  remove(participantId: string, reason: RemovalReason): void {
    this.getParticipant(participantId).close(reason);
  }

  #onNewProducer(participant: Participant, producer: types.Producer<ProducerAppData>): void {
    if (producer.kind === 'audio') {
      this.#speakerObserver.addProducer({ producerId: producer.id }).catch((error: unknown) => {
        this.#logger.warn({ err: error, producerId: producer.id }, 'cannot observe audio producer');
      });
    }
    producer.observer.on('pause', () => this.safeEmit('producerpaused', participant.id, producer.id));
    producer.observer.on('resume', () => this.safeEmit('producerresumed', participant.id, producer.id));
    producer.observer.once('close', () => {
      if (!this.#closed) this.safeEmit('producerclosed', participant.id, producer.id);
    });
    this.safeEmit('newproducer', participant.id, producer);
  }

  #onParticipantClosed(participant: Participant, reason: RemovalReason): void {
    this.#participants.delete(participant.id);
    this.#logger.info({ participantId: participant.id, reason }, 'participant left');
    if (!this.#closed) this.safeEmit('participantleft', participant.id, reason);
    this.#armEmptyTimer();
  }

  #armEmptyTimer(): void {
    if (this.#closed || this.#participants.size > 0 || this.#seats > 0) return;
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = setTimeout(() => {
      if (this.#participants.size === 0 && this.#seats === 0) {
        this.#logger.info('room empty for the grace period; closing');
        this.close();
      }
    }, this.options.emptyTimeoutSeconds * 1000);
    this.#emptyTimer.unref();
  }

  /** Ends the room: everyone is removed, the router closed. Idempotent. */
  close(reason: RemovalReason = 'room-closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#emptyTimer);
    for (const participant of [...this.#participants.values()]) participant.close(reason);
    this.router.close();
    this.#logger.info('room closed');
    this.safeEmit('close');
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.#logger.error({ event, err: error }, 'room listener threw');
  }
}
