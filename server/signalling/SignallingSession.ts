import type { types } from 'mediasoup';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { JoinTokenError, type JoinTokens } from '../auth/JoinTokens.js';
import {
  BadRequestError, CapacityError, ConfluxError, ForbiddenError, InvalidStateError, NotFoundError, toWireError,
} from '../errors.js';
import type { Logger } from '../logging/Logger.js';
import { producerInfo, type Participant } from '../rooms/Participant.js';
import { MediaRestartingError, type Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { RemovalReason, RoomEvents, TransportListenConfig } from '../rooms/RoomTypes.js';
import {
  RequestEnvelope, requestSchemas, type ChatMessage, type NotificationData, type NotificationMethod, type RequestData,
  type RequestMethod, type ResponseData,
} from './SignallingMessages.js';

export interface SignallingContext {
  rooms: RoomRegistry;
  tokens: JoinTokens;
  listen: TransportListenConfig;
  autoCreateRooms: boolean;
  /** Told why each join was refused (see `joinRefusalReason`). */
  onJoinRefused?: (reason: string) => void;
}

/** Why a join failed, in a few words a metric can carry: the token's fault, the room's, or ours. */
export function joinRefusalReason(error: unknown): string {
  if (error instanceof JoinTokenError) return error.reason;
  if (error instanceof NotFoundError) return 'room-not-found';
  if (error instanceof MediaRestartingError) return 'media-restarting';
  if (error instanceof CapacityError) return 'room-full';
  if (error instanceof InvalidStateError) return 'invalid-state';
  return 'error';
}

type Handler<M extends RequestMethod> = (data: RequestData<M>) => Promise<ResponseData[M]>;

/** A client must join within this time or the socket is closed. */
const JOIN_TIMEOUT_MS = 15_000;

/**
 * One browser's WebSocket: validates each request, runs it against its participant, and relays the
 * room's events as notifications.
 */
export class SignallingSession {
  readonly #socket: WebSocket;
  readonly #context: SignallingContext;
  #logger: Logger;
  #room: Room | undefined;
  #participant: Participant | undefined;
  #joining = false;
  readonly #roomListeners: Array<() => void> = [];
  readonly #joinTimer: NodeJS.Timeout;

  constructor(socket: WebSocket, context: SignallingContext, logger: Logger) {
    this.#socket = socket;
    this.#context = context;
    this.#logger = logger;
    this.#joinTimer = setTimeout(() => {
      if (!this.#participant) socket.close(4001, 'join timeout');
    }, JOIN_TIMEOUT_MS);
    socket.on('message', (raw, isBinary) => void this.#onFrame(raw as Buffer, isBinary));
    socket.on('close', () => this.#onSocketClosed());
    socket.on('error', (error) => this.#logger.warn({ error: error.message }, 'signalling socket error'));
  }

  async #onFrame(raw: Buffer, isBinary: boolean): Promise<void> {
    let envelope: z.infer<typeof RequestEnvelope>;
    try {
      if (isBinary) throw new BadRequestError('binary frames are not accepted');
      envelope = RequestEnvelope.parse(JSON.parse(raw.toString('utf8')));
    } catch (error) {
      // Without a valid id there is nothing to answer; tell the client once and keep the session.
      const message = error instanceof BadRequestError ? error.message : 'malformed request frame';
      this.#send({ id: -1, ok: false, error: { code: 400, message } });
      return;
    }
    const { id, method } = envelope;
    try {
      const data = await this.#dispatch(method, envelope.data ?? {});
      this.#send({ id, ok: true, data });
    } catch (error) {
      const { status, message } = toWireError(error);
      // A bug of ours is an error; a refusal (even a 503 for a cap) is the client's lot, and must not let it flood the log.
      if (!(error instanceof ConfluxError)) this.#logger.error({ err: error, method }, 'signalling request failed');
      else this.#logger.debug({ method, status, message }, 'signalling request refused');
      this.#send({ id, ok: false, error: { code: status, message } });
    }
  }

  async #dispatch(method: string, rawData: unknown): Promise<unknown> {
    if (!Object.hasOwn(requestSchemas, method)) throw new NotFoundError(`unknown method ${method}`);
    const parsed = requestSchemas[method as RequestMethod].safeParse(rawData);
    if (!parsed.success) {
      throw new BadRequestError(`invalid ${method} data: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);
    }
    const handler = this.#handlers[method as RequestMethod] as Handler<RequestMethod>;
    if (method !== 'join' && !this.#participant) throw new InvalidStateError('join first');
    return handler(parsed.data as never);
  }

  get #me(): Participant {
    if (!this.#participant || this.#participant.closed) throw new InvalidStateError('not in a room');
    return this.#participant;
  }

  /** Whether the token we joined with makes us a host of the room. */
  #roomAdmin = false;

  /** Another participant of our room, for a host's action: 403 for one who is not a host, 404 for one who is not there. */
  #otherParticipant(participantId: string): Participant {
    const me = this.#me;
    if (!this.#roomAdmin) throw new ForbiddenError('only a host of the room may do that');
    if (participantId === me.id) throw new BadRequestError('a host acts on the others; use your own controls for yourself');
    return this.#room!.getParticipant(participantId);
  }

  readonly #handlers: { [M in RequestMethod]: Handler<M> } = {
    join: async ({ token, displayName }) => {
      if (this.#participant || this.#joining) throw new InvalidStateError('already joined');
      this.#joining = true;
      try {
        const grant = await this.#context.tokens.verify(token);
        this.#roomAdmin = grant.roomAdmin === true;
        const room = this.#context.autoCreateRooms
          ? (await this.#context.rooms.getOrCreate(grant.room)).room
          : this.#context.rooms.get(grant.room);
        const participant = room.join({
          identity: grant.identity, displayName: displayName?.trim() || grant.name, kind: 'webrtc',
        });
        this.#attach(room, participant);
        return {
          participantId: participant.id,
          roomId: room.name,
          identity: participant.identity,
          routerRtpCapabilities: room.router.rtpCapabilities,
          participants: room.participants.filter((p) => p !== participant).map((p) => p.info()),
          chat: room.chat.history(),
          roomAdmin: this.#roomAdmin,
        };
      } catch (error) {
        this.#context.onJoinRefused?.(joinRefusalReason(error));
        if (error instanceof NotFoundError) throw new ForbiddenError(error.message);
        throw error;
      } finally {
        this.#joining = false;
      }
    },
    getRouterRtpCapabilities: async () => ({ routerRtpCapabilities: this.#room!.router.rtpCapabilities }),
    createWebRtcTransport: async ({ direction, forceTcp }) => {
      const transport = await this.#me.createWebRtcTransport(this.#context.listen, direction, forceTcp);
      return {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      };
    },
    connectWebRtcTransport: async ({ transportId, dtlsParameters }) => {
      await this.#me.connectWebRtcTransport(transportId, dtlsParameters as unknown as types.DtlsParameters);
      return {};
    },
    restartIce: async ({ transportId }) => ({ iceParameters: await this.#me.restartIce(transportId) }),
    produce: async ({ transportId, kind, rtpParameters, source }) => {
      const producer = await this.#me.produce(transportId, kind, rtpParameters as unknown as types.RtpParameters, source);
      return { id: producer.id };
    },
    closeProducer: async ({ producerId }) => {
      this.#me.getProducer(producerId).close();
      return {};
    },
    pauseProducer: async ({ producerId }) => {
      await this.#me.getProducer(producerId).pause();
      return {};
    },
    resumeProducer: async ({ producerId }) => {
      await this.#me.getProducer(producerId).resume();
      return {};
    },
    consume: async ({ transportId, producerId, rtpCapabilities }) => {
      const producer = this.#room!.getProducer(producerId);
      const consumer = await this.#me.consume(transportId, producer, rtpCapabilities as unknown as types.RtpCapabilities);
      return {
        id: consumer.id,
        producerId,
        participantId: producer.appData.participantId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        type: consumer.type,
        producerPaused: consumer.producerPaused,
      };
    },
    pauseConsumer: async ({ consumerId }) => {
      await this.#me.getConsumer(consumerId).pause();
      return {};
    },
    resumeConsumer: async ({ consumerId }) => {
      await this.#me.getConsumer(consumerId).resume();
      return {};
    },
    setConsumerPreferredLayers: async ({ consumerId, spatialLayer, temporalLayer }) => {
      const consumer = this.#me.getConsumer(consumerId);
      if (consumer.kind !== 'video') throw new BadRequestError('layers apply to video consumers only');
      await consumer.setPreferredLayers({ spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) });
      return {};
    },
    muteParticipant: async ({ participantId, kind, muted }) => {
      await this.#otherParticipant(participantId).mute({ kind }, muted);
      return {};
    },
    removeParticipant: async ({ participantId }) => {
      this.#otherParticipant(participantId);
      this.#room!.remove(participantId, 'kicked');
      return {};
    },
    raiseHand: async ({ raised }) => {
      this.#me.setHandRaised(raised);
      return {};
    },
    sendChat: async ({ text }) => {
      const me = this.#me;
      const message = this.#room!.chat.post({ id: me.id, identity: me.identity, displayName: me.displayName }, text);
      return { id: message.id, sentAt: message.sentAt };
    },
    leave: async () => {
      this.#me.close('left');
      return {};
    },
  };

  #attach(room: Room, participant: Participant): void {
    clearTimeout(this.#joinTimer);
    this.#room = room;
    this.#participant = participant;
    this.#logger = this.#logger.child({ room: room.name, participantId: participant.id });
    const me = participant.id;
    const relay = <E extends keyof RoomEvents & string>(event: E, listener: (...args: RoomEvents[E]) => void) => {
      room.on(event, listener);
      this.#roomListeners.push(() => room.off(event, listener));
    };
    relay('participantjoined', (info) => {
      if (info.id !== me) this.#notify('participantJoined', { participant: info });
    });
    relay('participantleft', (participantId) => {
      if (participantId !== me) this.#notify('participantLeft', { participantId });
    });
    relay('newproducer', (participantId, producer) => {
      if (participantId !== me) this.#notify('newProducer', { participantId, producer: producerInfo(producer) });
    });
    relay('producerclosed', (participantId, producerId) => {
      if (participantId !== me) this.#notify('producerClosed', { participantId, producerId });
    });
    relay('producerpaused', (participantId, producerId) => this.#notify('producerPaused', { participantId, producerId }));
    relay('producerresumed', (participantId, producerId) => this.#notify('producerResumed', { participantId, producerId }));
    relay('activespeaker', (participantId) => this.#notify('activeSpeaker', { participantId }));
    relay('handchanged', (participantId, raised) => this.#notify('handRaised', { participantId, raised }));
    const onChat = (message: ChatMessage) => this.#notify('chatMessage', message);
    room.chat.on('message', onChat);
    this.#roomListeners.push(() => room.chat.off('message', onChat));

    participant.on('consumerclosed', (consumerId) => this.#notify('consumerClosed', { consumerId }));
    participant.on('consumerpaused', (consumerId) => this.#notify('consumerPaused', { consumerId }));
    participant.on('consumerresumed', (consumerId) => this.#notify('consumerResumed', { consumerId }));
    participant.on('consumerscore', (consumerId, score, producerScore) =>
      this.#notify('consumerScore', { consumerId, score, producerScore }));
    participant.on('consumerlayerschanged', (consumerId, spatialLayer, temporalLayer) =>
      this.#notify('consumerLayersChanged', { consumerId, spatialLayer, temporalLayer }));
    participant.once('close', (reason) => this.#onRemoved(reason));
  }

  #onRemoved(reason: RemovalReason): void {
    this.#detach();
    if (reason === 'left' || reason === 'disconnected') return;
    this.#notify('removed', { reason });
    this.#socket.close(4000, reason);
  }

  #detach(): void {
    for (const off of this.#roomListeners.splice(0)) off();
  }

  #onSocketClosed(): void {
    clearTimeout(this.#joinTimer);
    this.#detach();
    this.#participant?.close('disconnected');
  }

  #notify<M extends NotificationMethod>(method: M, data: NotificationData[M]): void {
    this.#send({ notification: method, data });
  }

  #send(frame: unknown): void {
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.send(JSON.stringify(frame));
  }
}
