import type { types } from 'mediasoup';
import { createLogger, type Logger } from '../logging/Logger.js';
import { CapacityError, ConfluxError, InvalidStateError, NotFoundError } from '../errors.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import { Participant } from './Participant.js';
import { RoomChat } from './RoomChat.js';
import type { JoinOptions, ProducerAppData, RemovalReason, RoomEvents, RoomInfo, RoomOptions, RoomSeat } from './RoomTypes.js';

/** How long a room whose worker died waits for a router on a live worker before it closes. */
const REBUILD_TIMEOUT_MS = 15_000;

interface RoomMedia {
  router: types.Router;
  speakerObserver: types.ActiveSpeakerObserver;
}

/** Refused while the room is being rebuilt after its worker died: the caller may try again shortly. */
export class MediaRestartingError extends ConfluxError {
  constructor(room: string) { super(`room ${room} is restarting its media; try again in a moment`, 503, 503); }
}

/**
 * A conference: one mediasoup Router (on one worker) and the participants in it. Tells the outside
 * through events; closes itself once empty for the grace period. When its worker dies, the room is not
 * lost: its participants are removed with `media-restart` (browsers rejoin), and it gets a new router on a
 * live worker under the same name and options.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly name: string;
  /** The room's text chat (its recent messages outlive a media restart, not the room). */
  readonly chat = new RoomChat();
  readonly createdAt = new Date();
  readonly options: RoomOptions;
  readonly #participants = new Map<string, Participant>();
  readonly #createMedia: () => Promise<RoomMedia>;
  #media: RoomMedia;
  /** A new router is being made after the worker died. */
  #restarting = false;
  readonly #logger: Logger;
  #emptyTimer: NodeJS.Timeout | undefined;
  /** Seats kept for those on their way in: callers at a PIN prompt, dial-outs still ringing. */
  #seats = 0;
  #closed = false;

  private constructor(name: string, media: RoomMedia, createMedia: () => Promise<RoomMedia>, options: RoomOptions) {
    super();
    this.name = name;
    this.options = options;
    this.#createMedia = createMedia;
    this.#media = media;
    this.#logger = createLogger('room', { room: name });
    this.#watch(media);
    this.#armEmptyTimer();
  }

  /** Creates the router and observers for a room. */
  static async create(
    name: string, createRouter: () => Promise<types.Router>, options: RoomOptions,
  ): Promise<Room> {
    const createMedia = async (): Promise<RoomMedia> => {
      const router = await createRouter();
      try {
        return { router, speakerObserver: await router.createActiveSpeakerObserver({ interval: 300 }) };
      } catch (error) {
        router.close();
        throw error;
      }
    };
    return new Room(name, await createMedia(), createMedia, options);
  }

  /** The room's router: a new one after its worker died. */
  get router(): types.Router {
    return this.#media.router;
  }

  /** Whether the room is getting a new router after its worker died (joins are refused meanwhile). */
  get restarting(): boolean {
    return this.#restarting;
  }

  #watch(media: RoomMedia): void {
    media.speakerObserver.on('dominantspeaker', ({ producer }) => {
      this.safeEmit('activespeaker', (producer.appData as ProducerAppData).participantId);
    });
    // A worker's death closes its routers: 'workerclose' comes first, then the observer's close.
    media.router.once('workerclose', () => {
      if (!this.#closed) void this.#restart();
    });
    media.router.observer.once('close', () => {
      if (this.#media === media && !this.#restarting) this.close();
    });
  }

  /** Removes everyone (their transports died with the router) and makes a new router; closes the room if none can be made. */
  async #restart(): Promise<void> {
    this.#restarting = true;
    clearTimeout(this.#emptyTimer);
    this.#logger.warn({ participants: this.#participants.size }, 'media worker died: rebuilding the room on a live worker');
    for (const participant of [...this.#participants.values()]) participant.close('media-restart');
    this.safeEmit('mediarestart');
    let timer: NodeJS.Timeout | undefined;
    try {
      const media = await Promise.race([
        this.#createMedia(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('no live worker in time')), REBUILD_TIMEOUT_MS);
        }),
      ]);
      if (this.#closed) {
        media.router.close();
        return;
      }
      this.#media = media;
      this.#watch(media);
      this.#restarting = false;
      this.#logger.info('room media restored on a live worker');
      this.safeEmit('mediarestored');
      this.#armEmptyTimer();
    } catch (error) {
      this.#logger.error({ err: error }, 'cannot rebuild the room: closing it');
      this.#restarting = false;
      this.close();
    } finally {
      clearTimeout(timer);
    }
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
    if (this.#restarting) throw new MediaRestartingError(this.name);
    for (const other of this.#participants.values()) {
      if (other.identity === options.identity) other.close('duplicate-identity');
    }
    const ownSeat = seat?.held === true ? 1 : 0;
    if (this.#participants.size + this.#seats - ownSeat >= this.options.maxParticipants) {
      throw new CapacityError(`room ${this.name} is full`);
    }
    const participant = new Participant(this.#media.router, options, this.#logger);
    this.#participants.set(participant.id, participant);
    clearTimeout(this.#emptyTimer);
    participant.on('newproducer', (producer) => this.#onNewProducer(participant, producer));
    participant.on('hand', (raised) => this.safeEmit('handchanged', participant.id, raised));
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
      this.#media.speakerObserver.addProducer({ producerId: producer.id }).catch((error: unknown) => {
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
    this.chat.forget(participant.id);
    this.#logger.info({ participantId: participant.id, reason }, 'participant left');
    if (!this.#closed) this.safeEmit('participantleft', participant.id, reason);
    this.#armEmptyTimer();
  }

  #armEmptyTimer(): void {
    if (this.#closed || this.#restarting || this.#participants.size > 0 || this.#seats > 0) return;
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
    this.#media.router.close();
    this.#logger.info('room closed');
    this.safeEmit('close');
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.#logger.error({ event, err: error }, 'room listener threw');
  }
}
