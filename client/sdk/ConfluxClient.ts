import { Device } from 'mediasoup-client';
import type {
  Consumer,
  DtlsParameters,
  IceCandidate,
  IceParameters,
  Producer,
  ProducerOptions,
  RtpCapabilities,
  RtpEncodingParameters,
  RtpParameters,
  Transport,
} from 'mediasoup-client/types';
import type { ChatMessage, ParticipantInfo, ProducerInfo, ResponseData } from '../../server/signalling/SignallingMessages.js';
import type {
  ClientSnapshot,
  ClientState,
  ConfluxClientEvents,
  ConnectionQuality,
  ConfluxClientOptions,
  JoinOptions,
  LocalSource,
  RemoteParticipant,
  RemoteTrack,
  RemoteTrackAppData,
  RemovedReason,
} from './ConfluxClientTypes.js';
import { InvalidStateError } from './InvalidStateError.js';
import { type Notification, SignallingChannel } from './SignallingChannel.js';
import { SignallingError } from './SignallingError.js';
import { TypedEmitter } from './TypedEmitter.js';

export type JoinResult = ResponseData['join'];

// Three spatial layers so the SFU can forward a small layer to small tiles and weak receivers.
const CAMERA_ENCODINGS: RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

const CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 24 },
};

const FINAL_STATES: ReadonlySet<ClientState> = new Set(['left', 'removed', 'disconnected', 'failed']);

/** Resolves once the send and receive transports exist, so early `newProducer`s can wait for them. */
class Deferred {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Waiters handle the rejection themselves; do not report it as unhandled.
    this.promise.catch(() => undefined);
  }
}

/**
 * A participant's view of one Conflux room: joins with a token, publishes the microphone and camera,
 * receives everybody else and reports it all as typed events.
 */
/** How many chat messages the client keeps (as many as the room does for late joiners, and then some). */
const CHAT_KEPT = 500;

export class ConfluxClient extends TypedEmitter<ConfluxClientEvents> {
  readonly #signallingUrl: string;
  readonly #requestTimeoutMs: number;
  #state: ClientState = 'new';
  #channel: SignallingChannel | null = null;
  #device: Device | null = null;
  #sendTransport: Transport | null = null;
  #recvTransport: Transport | null = null;
  readonly #transportsReady = new Deferred();
  readonly #participants = new Map<string, RemoteParticipant>();
  readonly #producers = new Map<LocalSource, Producer>();
  /** The last score (0-10, the lower of the path to us and the sender's own) of each consumer we have. */
  readonly #scores = new Map<string, number>();
  /** The connection quality last told for each participant. */
  readonly #qualities = new Map<string, ConnectionQuality>();
  #handRaised = false;
  #roomAdmin = false;
  /** The room's chat as we know it: its history at our join, then every message since. */
  readonly #chat: ChatMessage[] = [];
  // Producers we already asked to consume, so a `newProducer` racing the join answer is not consumed twice.
  readonly #requestedProducerIds = new Set<string>();
  // consumerClosed can overtake our own local consume(); remember it and close the late consumer.
  readonly #closedConsumerIds = new Set<string>();
  #participantId: string | null = null;
  #roomId: string | null = null;
  #activeSpeakerId: string | null = null;
  #removedReason: RemovedReason | null = null;

  constructor(options: ConfluxClientOptions = {}) {
    super();
    this.#signallingUrl = options.signallingUrl ?? ConfluxClient.defaultSignallingUrl();
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** `/ws` on the page's origin, `wss:` when the page is served over https. */
  static defaultSignallingUrl(): string {
    const { protocol, host } = window.location;
    return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/ws`;
  }

  /** Asks the server for a guest token for `room` (`POST /api/v1/guest-tokens`). */
  static async fetchGuestToken(room: string, name: string, apiBaseUrl = window.location.origin): Promise<string> {
    const response = await fetch(new URL('/api/v1/guest-tokens', apiBaseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ room, name }),
    });
    const body: unknown = await response.json().catch(() => null);
    const token = (body as { token?: unknown } | null)?.token;
    if (!response.ok || typeof token !== 'string') {
      throw new SignallingError('guestToken', response.status, errorMessageOf(body) ?? response.statusText);
    }
    return token;
  }

  get state(): ClientState {
    return this.#state;
  }

  get participantId(): string | null {
    return this.#participantId;
  }

  get roomId(): string | null {
    return this.#roomId;
  }

  get activeSpeakerId(): string | null {
    return this.#activeSpeakerId;
  }

  /** Why the server removed us, once state is `removed`. */
  get removedReason(): RemovedReason | null {
    return this.#removedReason;
  }

  /** Everybody else in the room, by participant id. */
  get participants(): ReadonlyMap<string, RemoteParticipant> {
    return this.#participants;
  }

  /** Every consumer we hold, across participants. */
  get consumers(): Consumer<RemoteTrackAppData>[] {
    return [...this.#participants.values()].flatMap((participant) => [...participant.consumers.values()]);
  }

  /** Our producer for a source, if published. */
  producer(source: LocalSource): Producer | undefined {
    return this.#producers.get(source);
  }

  /** The room's chat messages, oldest first: those sent before we joined (the room keeps the last 100), then since. */
  get chat(): readonly ChatMessage[] {
    return this.#chat;
  }

  /** Whether our token makes us a host of the room: we may mute and remove the others. */
  get roomAdmin(): boolean {
    return this.#roomAdmin;
  }

  /** A host's action: mutes or unmutes another participant's audio or video (403 for one who is not a host). */
  async muteParticipant(participantId: string, kind: 'audio' | 'video', muted: boolean): Promise<void> {
    await this.#request('muteParticipant', { participantId, kind, muted });
  }

  /** A host's action: removes another participant from the room. */
  async removeParticipant(participantId: string): Promise<void> {
    await this.#request('removeParticipant', { participantId });
  }

  /** Whether our hand is raised, as the server last told. */
  get handRaised(): boolean {
    return this.#handRaised;
  }

  /** Raises or lowers our hand for everyone (`handChanged` tells us too, once the server has it). */
  async raiseHand(raised: boolean): Promise<void> {
    await this.#request('raiseHand', { raised });
  }

  /** Sends a chat message to everyone in the room (1-2000 characters); it comes back as a `chatMessage` event too. */
  async sendChat(text: string): Promise<void> {
    await this.#request('sendChat', { text });
  }

  /** Whether a published source is muted (paused); false when not published. */
  isMuted(source: LocalSource): boolean {
    return this.#producers.get(source)?.paused ?? false;
  }

  /** Connects, joins the room the token grants and sets up media transports. Single use per client. */
  async join({ token, displayName }: JoinOptions): Promise<JoinResult> {
    if (this.#state !== 'new') throw new InvalidStateError(`cannot join in state ${this.#state}`);
    this.#setState('connecting');
    try {
      const channel = await SignallingChannel.open(this.#signallingUrl, this.#requestTimeoutMs);
      this.#channel = channel;
      channel.on('notification', (notification) => this.#onNotification(notification));
      channel.on('close', ({ byUs }) => {
        if (!byUs) this.#teardown('disconnected');
      });
      const joined = await this.#request('join', displayName ? { token, displayName } : { token });
      this.#assertStillJoining();
      this.#participantId = joined.participantId;
      this.#roomId = joined.roomId;
      for (const info of joined.participants) this.#upsertParticipant(info);
      this.#chat.push(...joined.chat);
      this.#roomAdmin = joined.roomAdmin;
      await this.#setUpTransports(joined.routerRtpCapabilities as RtpCapabilities);
      this.#assertStillJoining();
      this.#setState('joined');
      for (const info of joined.participants) {
        for (const producer of info.producers) void this.#consume(info.id, producer);
      }
      return joined;
    } catch (error) {
      this.#transportsReady.reject(error as Error);
      this.#teardown('failed');
      throw error;
    }
  }

  /** Publishes the microphone (or the given audio track) as source `mic`. */
  async publishMic(track?: MediaStreamTrack): Promise<Producer> {
    const audio = track ?? (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks()[0];
    if (!audio) throw new InvalidStateError('no microphone track');
    return this.#publish('mic', audio, {});
  }

  /** Publishes the camera (or the given video track) as source `camera`, simulcast in three layers. */
  async publishCamera(track?: MediaStreamTrack): Promise<Producer> {
    const video =
      track ?? (await navigator.mediaDevices.getUserMedia({ video: CAMERA_CONSTRAINTS })).getVideoTracks()[0];
    if (!video) throw new InvalidStateError('no camera track');
    return this.#publish('camera', video, {
      encodings: CAMERA_ENCODINGS,
      codecOptions: { videoGoogleStartBitrate: 1000 },
    });
  }

  /** Stops publishing a source and releases its device. */
  async unpublish(source: LocalSource): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer) return;
    this.#producers.delete(source);
    producer.close();
    if (this.#channel?.isOpen) await this.#request('closeProducer', { producerId: producer.id });
  }

  /** Mutes (pauses) or unmutes a published source for everybody. */
  async setMuted(source: LocalSource, muted: boolean): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer) throw new InvalidStateError(`${source} is not published`);
    if (producer.paused === muted) return;
    if (muted) {
      producer.pause();
      await this.#request('pauseProducer', { producerId: producer.id });
    } else {
      producer.resume();
      await this.#request('resumeProducer', { producerId: producer.id });
    }
    this.safeEmit('localMuteChanged', { source, muted });
  }

  /**
   * The server paused or resumed one of our own producers (a host's mute over the API): our producer follows,
   * so what we send, what we show and what our next toggle does agree with what everyone else sees.
   */
  #onOwnProducerMuted(producerId: string, muted: boolean): void {
    for (const [source, producer] of this.#producers) {
      if (producer.id !== producerId || producer.paused === muted) continue;
      if (muted) producer.pause();
      else producer.resume();
      this.safeEmit('localMuteChanged', { source, muted });
    }
  }

  /** Asks the SFU to forward a given simulcast layer of a video consumer (e.g. a low one for a small tile). */
  async setPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    await this.#request(
      'setConsumerPreferredLayers',
      temporalLayer === undefined ? { consumerId, spatialLayer } : { consumerId, spatialLayer, temporalLayer },
    );
  }

  /** Leaves the room and releases every device and connection. */
  async leave(): Promise<void> {
    if (FINAL_STATES.has(this.#state) || this.#state === 'new') return;
    try {
      if (this.#channel?.isOpen) await this.#request('leave', {}, 3_000);
    } catch {
      // Leaving locally matters more than the server's acknowledgement; it notices the socket close anyway.
    }
    this.#teardown('left');
  }

  /** A JSON-safe picture of the current state. */
  snapshot(): ClientSnapshot {
    return {
      state: this.#state,
      participantId: this.#participantId,
      roomId: this.#roomId,
      activeSpeakerId: this.#activeSpeakerId,
      local: [...this.#producers].map(([source, producer]) => ({
        source,
        producerId: producer.id,
        paused: producer.paused,
        trackState: producer.track?.readyState ?? 'none',
      })),
      participants: [...this.#participants.values()].map((participant) => ({
        id: participant.id,
        identity: participant.identity,
        displayName: participant.displayName,
        kind: participant.kind,
        producers: [...participant.producers.values()].map((producer) => ({ ...producer })),
        consumers: [...participant.consumers.values()].map((consumer) => ({
          id: consumer.id,
          producerId: consumer.producerId,
          kind: consumer.kind,
          source: consumer.appData.source,
          paused: consumer.paused,
          closed: consumer.closed,
          trackState: consumer.track.readyState,
        })),
      })),
    };
  }

  #request: SignallingChannel['request'] = (method, data, timeoutMs = this.#requestTimeoutMs) => {
    if (!this.#channel) return Promise.reject(new InvalidStateError('not connected'));
    return this.#channel.request(method, data, timeoutMs);
  };

  // leave(), a kick or a dropped socket can end the session while join() is still awaiting.
  #assertStillJoining(): void {
    if (this.#state !== 'connecting') throw new InvalidStateError(`session ended (${this.#state}) while joining`);
  }

  async #setUpTransports(routerRtpCapabilities: RtpCapabilities): Promise<void> {
    const device = await Device.factory();
    await device.load({ routerRtpCapabilities });
    this.#device = device;
    const [sendInfo, recvInfo] = await Promise.all([
      this.#request('createWebRtcTransport', { direction: 'send' }),
      this.#request('createWebRtcTransport', { direction: 'recv' }),
    ]);
    const send = device.createSendTransport(transportOptions(sendInfo));
    this.#wireTransport(send);
    send.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      const source = appData.source as LocalSource;
      this.#request('produce', { transportId: send.id, kind, rtpParameters, source })
        .then(({ id }) => callback({ id }), errback);
    });
    this.#sendTransport = send;
    const recv = device.createRecvTransport(transportOptions(recvInfo));
    this.#wireTransport(recv);
    this.#recvTransport = recv;
    this.#transportsReady.resolve();
  }

  #wireTransport(transport: Transport): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback(), errback);
    });
    transport.on('connectionstatechange', (connectionState) => {
      if (connectionState !== 'failed' || this.#state !== 'joined') return;
      // A changed network path (Wi-Fi → LTE) needs fresh ICE credentials rather than a new transport.
      this.#request('restartIce', { transportId: transport.id })
        .then(({ iceParameters }) => transport.restartIce({ iceParameters: iceParameters as IceParameters }))
        .catch((error: unknown) => this.safeEmit('warning', asError(error)));
    });
  }

  async #publish(source: LocalSource, track: MediaStreamTrack, options: ProducerOptions): Promise<Producer> {
    const send = this.#sendTransport;
    if (this.#state !== 'joined' || !send || !this.#device) throw new InvalidStateError('join before publishing');
    if (this.#producers.has(source)) throw new InvalidStateError(`${source} is already published`);
    if (!this.#device.canProduce(track.kind as 'audio' | 'video')) {
      track.stop();
      throw new InvalidStateError(`the room cannot receive ${track.kind} from this browser`);
    }
    const producer = await send.produce({ ...options, track, appData: { source } });
    this.#producers.set(source, producer);
    producer.on('trackended', () => {
      // The device went away (unplugged, permission revoked): stop advertising a dead track.
      void this.unpublish(source).catch((error: unknown) => this.safeEmit('warning', asError(error)));
    });
    this.safeEmit('localTrack', { source, track });
    return producer;
  }

  #onNotification(notification: Notification): void {
    switch (notification.notification) {
      case 'participantJoined': {
        const { participant } = notification.data;
        this.#upsertParticipant(participant);
        for (const producer of participant.producers) void this.#consume(participant.id, producer);
        break;
      }
      case 'participantLeft':
        this.#removeParticipant(notification.data.participantId);
        break;
      case 'newProducer': {
        const { participantId, producer } = notification.data;
        this.#participants.get(participantId)?.producers.set(producer.id, { ...producer });
        void this.#consume(participantId, producer);
        break;
      }
      case 'producerClosed': {
        const participant = this.#participants.get(notification.data.participantId);
        if (!participant) break;
        participant.producers.delete(notification.data.producerId);
        for (const consumer of participant.consumers.values()) {
          if (consumer.producerId === notification.data.producerId) this.#closeConsumer(participant, consumer);
        }
        break;
      }
      case 'producerPaused':
      case 'producerResumed': {
        const { participantId, producerId } = notification.data;
        if (participantId === this.#participantId) {
          this.#onOwnProducerMuted(producerId, notification.notification === 'producerPaused');
          break;
        }
        const producer = this.#participants.get(participantId)?.producers.get(producerId);
        if (!producer) break;
        producer.paused = notification.notification === 'producerPaused';
        this.safeEmit('remoteMuteChanged', { participantId, producerId, source: producer.source, muted: producer.paused });
        break;
      }
      case 'consumerClosed': {
        const { consumerId } = notification.data;
        const participant = [...this.#participants.values()].find((p) => p.consumers.has(consumerId));
        const consumer = participant?.consumers.get(consumerId);
        if (participant && consumer) this.#closeConsumer(participant, consumer);
        else this.#closedConsumerIds.add(consumerId);
        break;
      }
      case 'consumerScore': {
        const { consumerId, score, producerScore } = notification.data;
        const participant = [...this.#participants.values()].find((p) => p.consumers.has(consumerId));
        if (!participant) break;
        this.#scores.set(consumerId, Math.min(score, producerScore));
        this.#updateQuality(participant);
        break;
      }
      case 'handRaised': {
        const { participantId, raised } = notification.data;
        if (participantId === this.#participantId) this.#handRaised = raised;
        else {
          const participant = this.#participants.get(participantId);
          if (!participant) break;
          participant.handRaised = raised;
        }
        this.safeEmit('handChanged', { participantId, raised });
        break;
      }
      case 'chatMessage':
        this.#chat.push(notification.data);
        if (this.#chat.length > CHAT_KEPT) this.#chat.shift();
        this.safeEmit('chatMessage', notification.data);
        break;
      case 'activeSpeaker':
        this.#activeSpeakerId = notification.data.participantId;
        this.safeEmit('activeSpeaker', this.#activeSpeakerId);
        break;
      case 'removed':
        this.#removedReason = notification.data.reason;
        this.#teardown('removed');
        this.safeEmit('removed', notification.data.reason);
        break;
      default:
        // Scores, layer changes and consumer pause echoes carry nothing the SDK exposes yet.
        break;
    }
  }

  async #consume(participantId: string, producer: ProducerInfo): Promise<void> {
    if (participantId === this.#participantId || this.#requestedProducerIds.has(producer.id)) return;
    this.#requestedProducerIds.add(producer.id);
    try {
      await this.#transportsReady.promise;
      const recv = this.#recvTransport;
      const device = this.#device;
      if (!recv || !device || FINAL_STATES.has(this.#state)) return;
      const params = await this.#request('consume', {
        transportId: recv.id,
        producerId: producer.id,
        rtpCapabilities: device.recvRtpCapabilities,
      });
      const consumer = await recv.consume<RemoteTrackAppData>({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as RtpParameters,
        // One stream per participant lets the browser lip-sync their audio and video.
        streamId: participantId,
        appData: { participantId, source: producer.source },
      });
      const participant = this.#participants.get(participantId);
      if (
        !participant || !participant.producers.has(producer.id) || this.#closedConsumerIds.has(consumer.id) ||
        this.#state !== 'joined'
      ) {
        consumer.close();
        return;
      }
      participant.consumers.set(consumer.id, consumer);
      await this.#request('resumeConsumer', { consumerId: consumer.id });
      if (!consumer.closed) this.safeEmit('trackAdded', remoteTrackOf(consumer));
    } catch (error) {
      this.#requestedProducerIds.delete(producer.id);
      if (this.#state === 'joined') this.safeEmit('warning', asError(error));
    }
  }

  #upsertParticipant(info: ParticipantInfo): void {
    const existing = this.#participants.get(info.id);
    if (existing) {
      existing.displayName = info.displayName;
      existing.attributes = { ...info.attributes };
      existing.handRaised = info.handRaised;
      for (const producer of info.producers) existing.producers.set(producer.id, { ...producer });
      return;
    }
    if (info.id === this.#participantId) return;
    const participant: RemoteParticipant = {
      id: info.id,
      identity: info.identity,
      displayName: info.displayName,
      kind: info.kind,
      attributes: { ...info.attributes },
      producers: new Map(info.producers.map((producer) => [producer.id, { ...producer }])),
      consumers: new Map(),
      handRaised: info.handRaised,
    };
    this.#participants.set(info.id, participant);
    this.safeEmit('participantJoined', participant);
  }

  #removeParticipant(participantId: string): void {
    const participant = this.#participants.get(participantId);
    if (!participant) return;
    for (const consumer of participant.consumers.values()) this.#closeConsumer(participant, consumer);
    this.#participants.delete(participantId);
    if (this.#activeSpeakerId === participantId) {
      this.#activeSpeakerId = null;
      this.safeEmit('activeSpeaker', null);
    }
    this.safeEmit('participantLeft', participant);
  }

  /**
   * How well a participant reaches us: the worst score of our consumers of it (mediasoup's 0-10, the lower of
   * its own sending and the path to us), as good (7 and up), fair (4 and up) or poor; told when it changes.
   */
  #updateQuality(participant: RemoteParticipant): void {
    const scores = [...participant.consumers.keys()].map((id) => this.#scores.get(id)).filter((s): s is number => s !== undefined);
    if (scores.length === 0) return;
    const score = Math.min(...scores);
    const quality: ConnectionQuality = score >= 7 ? 'good' : score >= 4 ? 'fair' : 'poor';
    if (this.#qualities.get(participant.id) === quality) return;
    this.#qualities.set(participant.id, quality);
    this.safeEmit('connectionQuality', { participantId: participant.id, quality, score });
  }

  /** A participant's connection quality as last told (`connectionQuality`); undefined before its first score. */
  quality(participantId: string): ConnectionQuality | undefined {
    return this.#qualities.get(participantId);
  }

  #closeConsumer(participant: RemoteParticipant, consumer: Consumer<RemoteTrackAppData>): void {
    participant.consumers.delete(consumer.id);
    this.#scores.delete(consumer.id);
    this.#requestedProducerIds.delete(consumer.producerId);
    consumer.close();
    this.safeEmit('trackRemoved', remoteTrackOf(consumer));
  }

  #teardown(state: ClientState): void {
    if (FINAL_STATES.has(this.#state)) return;
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    for (const participant of this.#participants.values()) {
      for (const consumer of participant.consumers.values()) consumer.close();
    }
    this.#participants.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#channel?.close();
    this.#activeSpeakerId = null;
    this.#setState(state);
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.safeEmit('stateChanged', state);
  }
}

function transportOptions(info: ResponseData['createWebRtcTransport']) {
  return {
    id: info.id,
    iceParameters: info.iceParameters as IceParameters,
    iceCandidates: info.iceCandidates as IceCandidate[],
    dtlsParameters: info.dtlsParameters as DtlsParameters,
  };
}

function remoteTrackOf(consumer: Consumer<RemoteTrackAppData>): RemoteTrack {
  return {
    participantId: consumer.appData.participantId,
    consumerId: consumer.id,
    producerId: consumer.producerId,
    kind: consumer.kind,
    source: consumer.appData.source,
    track: consumer.track,
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function errorMessageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const { error } = body as { error: unknown };
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return undefined;
}
