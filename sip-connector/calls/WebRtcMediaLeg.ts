import type { types } from 'mediasoup';
import { UnsupportedError } from '../../server/errors.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { ProducerAppData, TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { MediaDirection, PhoneCodec, PhoneCodecName } from './PhoneSdp.js';
import {
  buildWebRtcAnswer, buildWebRtcOffer, consumerRtpCapabilities, consumerVideoRtpCapabilities, MID_EXTENSION_ID, producerRtpParameters,
  producerVideoRtpParameters, readWebRtcSdp, type WebRtcDescription, type WebRtcOfferedCodec, type WebRtcVideoCodec,
} from './WebRtcSdp.js';

/** The m-lines of the audio and the video we offer a browser we call. */
const OFFER_MID = '0';
const VIDEO_OFFER_MID = '1';

export interface LegOptions {
  /** Whether our answers take the browser's RFC 4733 events; false: its keys come as SIP INFO. */
  telephoneEvents?: boolean;
  /** The video codec, numbered as the router numbers it, when the call carries video. */
  video?: WebRtcVideoCodec | null;
}

const sends = (direction: MediaDirection): boolean => direction === 'sendrecv' || direction === 'sendonly';
const receives = (direction: MediaDirection): boolean => direction === 'sendrecv' || direction === 'recvonly';

/** The SSRC and CNAME a consumer sends with, for the description that announces it. */
function sendingOf(consumer: types.Consumer | null): { ssrc: number; cname: string } | null {
  const ssrc = consumer?.rtpParameters.encodings?.[0]?.ssrc;
  return consumer && ssrc !== undefined ? { ssrc, cname: consumer.rtpParameters.rtcp?.cname ?? 'conflux' } : null;
}

/**
 * The media of a browser SIP client's call: a mediasoup WebRtcTransport of a room participant (ICE-lite,
 * DTLS-SRTP, the same listen and announced addresses as the rooms), the browser's audio as its producer
 * and what the browser hears as a consumer on the same BUNDLE transport. Packets are forwarded by
 * mediasoup as they are: only SRTP changes. The browser either offers (it calls) or answers (we call it).
 */
export class WebRtcMediaLeg {
  readonly participant: Participant;
  readonly codec: PhoneCodec;
  readonly #transport: types.WebRtcTransport;
  /** The browser's offer, or its answer once it has given one. */
  #remote: WebRtcDescription | null;
  #consumer: types.Consumer | null = null;
  #version = 1;
  /** We called the browser (and offered), rather than answered its offer. */
  readonly #weOffered: boolean;
  readonly #sessionId = String(Math.floor(Math.random() * 2 ** 31));
  /** Whether our answers take the browser's RFC 4733 events (someone on the other side receives them). */
  readonly #telephoneEvents: boolean;
  /** The video codec the call carries, when it carries video. */
  readonly #video: WebRtcVideoCodec | null;
  #videoConsumer: types.Consumer | null = null;

  private constructor(participant: Participant, codec: PhoneCodec, transport: types.WebRtcTransport, remote: WebRtcDescription | null,
    { telephoneEvents = true, video = null }: LegOptions = {}) {
    this.participant = participant;
    this.codec = codec;
    this.#transport = transport;
    this.#remote = remote;
    this.#weOffered = remote === null;
    this.#telephoneEvents = telephoneEvents;
    this.#video = video;
  }

  /** Whether video flows on the leg: we carry it and the browser's description has it. */
  get hasVideo(): boolean {
    return this.#video !== null && this.#remote?.video != null;
  }

  /** The first codec of the browser's description that `acceptable` allows; 488 when none. */
  static pickCodec(description: WebRtcDescription, acceptable: readonly PhoneCodecName[]): WebRtcOfferedCodec {
    const codec = description.audio.codecs.find((candidate) => acceptable.includes(candidate.name));
    if (!codec) throw new UnsupportedError(`SDP: no common audio codec (the browser has ${description.audio.codecs.map((c) => c.name).join(', ') || 'none we know'})`);
    return codec;
  }

  /** The first video codec of the browser's description that we carry (VP8, H.264 mode 1), if any. */
  static pickVideoCodec(description: WebRtcDescription): WebRtcVideoCodec | null {
    return description.video?.codecs[0] ?? null;
  }

  /**
   * Answers a browser's offer: opens the transport, connects DTLS with its fingerprint, takes its audio (and
   * its video in `video`, when given). `telephoneEvents: false`: our answers leave RFC 4733 out (its keys then
   * come as SIP INFO).
   */
  static async answering(participant: Participant, listen: TransportListenConfig, offer: WebRtcDescription, codec: WebRtcOfferedCodec,
    options: LegOptions = {}): Promise<WebRtcMediaLeg> {
    const transport = await participant.createWebRtcTransport(listen, 'send') as types.WebRtcTransport;
    const leg = new WebRtcMediaLeg(participant, codec, transport, offer, options);
    try {
      await leg.#connect(offer, codec);
    } catch (error) {
      transport.close();
      throw error;
    }
    return leg;
  }

  /** Opens the transport for a browser we call; `offer()` is then what we send it (with video in `options.video`). */
  static async offering(participant: Participant, listen: TransportListenConfig, codec: PhoneCodec, options: LegOptions = {}): Promise<WebRtcMediaLeg> {
    const transport = await participant.createWebRtcTransport(listen, 'send') as types.WebRtcTransport;
    return new WebRtcMediaLeg(participant, codec, transport, null, options);
  }

  /** Our offer to the browser, in the leg's codecs, with `direction` as ours. */
  offer(telephoneEvent: { payloadType: number; clockRate: number } | null, direction?: MediaDirection): string {
    // Once answered, video is offered again only if the browser took it.
    const video = this.#video && (this.#remote === null || this.#remote.video) ? { codec: this.#video, mid: VIDEO_OFFER_MID } : undefined;
    return buildWebRtcOffer({
      codec: this.codec, telephoneEvent, mid: OFFER_MID, iceParameters: this.#transport.iceParameters,
      iceCandidates: this.#transport.iceCandidates, dtlsParameters: this.#transport.dtlsParameters,
      sessionId: this.#sessionId, version: this.#version, ...(direction ? { direction } : {}), ...(video ? { video } : {}),
    });
  }

  /** Takes the browser's answer to our offer: DTLS with its fingerprint, its audio as a producer. */
  async accept(answerSdp: string): Promise<void> {
    const answer = readWebRtcSdp(answerSdp);
    const codec = this.codecIn(answer);
    this.#remote = answer;
    await this.#connect(answer, codec);
  }

  /** The leg's codec as `description` writes it (same payload type); 488 when it lacks it. */
  codecIn(description: WebRtcDescription): WebRtcOfferedCodec {
    const codec = description.audio.codecs.find((c) => c.name === this.codec.name && c.payloadType === this.codec.payloadType);
    if (!codec) throw new UnsupportedError(`SDP: the browser's description lacks ${this.codec.name}/${this.codec.payloadType}`);
    return codec;
  }

  async #connect(remote: WebRtcDescription, codec: WebRtcOfferedCodec): Promise<void> {
    await this.participant.connectWebRtcTransport(this.#transport.id, remote.dtlsParameters);
    if (sends(remote.audio.direction)) {
      await this.participant.produce(this.#transport.id, 'audio', producerRtpParameters(remote, codec), 'mic');
    }
    // The browser's video in the leg's codec, as it numbers it (its offer's numbering, or ours that it answered).
    const ours = this.#video;
    const video = ours && remote.video ? remote.video.codecs.find((c) => c.name === ours.name && c.payloadType === ours.payloadType) : undefined;
    if (remote.video && video && sends(remote.video.direction)) {
      await this.participant.produce(this.#transport.id, 'video', producerVideoRtpParameters(remote.video, video), 'camera');
    }
  }

  /** Sends `producer` (the other party's audio, in the leg's codec) to the browser, in place of what it sent before. */
  async consume(producer: types.Producer<ProducerAppData>): Promise<void> {
    this.#consumer?.close();
    this.#consumer = null;
    // Our own offer routes our stream by MID (its SSRC was not in it); our answer names the SSRC instead.
    const byMid = this.#weOffered;
    const consumer = await this.participant.consume(this.#transport.id, producer,
      consumerRtpCapabilities(this.codec, byMid ? MID_EXTENSION_ID : undefined), byMid ? OFFER_MID : undefined);
    await consumer.resume();
    this.#consumer = consumer;
  }

  /** Sends `producer` (the other party's video, in the leg's video codec) to the browser. */
  async consumeVideo(producer: types.Producer<ProducerAppData>): Promise<void> {
    if (!this.#video) throw new UnsupportedError('the call carries no video');
    this.#videoConsumer?.close();
    this.#videoConsumer = null;
    const byMid = this.#weOffered;
    const consumer = await this.participant.consume(this.#transport.id, producer,
      consumerVideoRtpCapabilities(this.#video, byMid ? MID_EXTENSION_ID : undefined), byMid ? VIDEO_OFFER_MID : undefined);
    await consumer.resume();
    this.#videoConsumer = consumer;
  }

  /**
   * Takes a new offer from the browser on the same transport (hold, resume): what it says of receiving
   * pauses or resumes what we send it. The answer is then `answer()`.
   */
  async reoffered(offer: WebRtcDescription): Promise<void> {
    this.#remote = offer;
    this.#version += 1;
    if (this.#consumer) await (receives(offer.audio.direction) ? this.#consumer.resume() : this.#consumer.pause());
    if (this.#videoConsumer) await (offer.video && receives(offer.video.direction) ? this.#videoConsumer.resume() : this.#videoConsumer.pause());
  }

  /** Our SDP answer to the browser's offer. */
  answer(): string {
    const remote = this.#remote;
    if (!remote) throw new UnsupportedError('no offer to answer');
    return this.#onBrowserLines(remote);
  }

  /** Our description on the m-lines of the browser's offer: the answer to it, or (with a direction) a re-offer. */
  #onBrowserLines(remote: WebRtcDescription, reofferDirection?: MediaDirection): string {
    const offer = this.#telephoneEvents ? remote : { ...remote, audio: { ...remote.audio, telephoneEvent: null } };
    return buildWebRtcAnswer({
      offer, codec: this.codecIn(remote), ...(reofferDirection ? { reofferDirection } : {}),
      iceParameters: this.#transport.iceParameters, iceCandidates: this.#transport.iceCandidates,
      dtlsParameters: this.#transport.dtlsParameters,
      sending: sendingOf(this.#consumer),
      ...(this.#video ? { video: { codec: this.#video, sending: sendingOf(this.#videoConsumer) } } : {}),
      sessionId: this.#sessionId, version: this.#version,
    });
  }

  /**
   * Our re-offer to the browser with `direction` as ours (the phone holds or resumes), on the m-lines the
   * call already has; `reanswered` then takes the browser's answer.
   */
  reoffer(direction: MediaDirection, telephoneEvent: { payloadType: number; clockRate: number } | null): string {
    const remote = this.#remote;
    if (!remote) throw new UnsupportedError('the browser has not answered yet');
    this.#version += 1;
    if (this.#weOffered) return this.offer(telephoneEvent, direction);
    return this.#onBrowserLines(remote, direction);
  }

  /** The browser's answer to `reoffer`: it must keep the codec (488 otherwise, before anything changes). */
  reanswered(answerSdp: string): WebRtcDescription {
    const answer = readWebRtcSdp(answerSdp);
    this.codecIn(answer);
    // The offer stays what later answers mirror when the browser itself offered; only our own offer's answer replaces it.
    if (this.#weOffered) this.#remote = answer;
    return answer;
  }

  /** Re-offers over the browser's `dialog` with `direction` as ours (`reoffer`) and takes its answer; rejects when it does not take it. */
  async renegotiate(dialog: IncomingCall | OutgoingCall, direction: MediaDirection, telephoneEvent: { payloadType: number; clockRate: number } | null): Promise<void> {
    const result = await dialog.reinvite(this.reoffer(direction, telephoneEvent));
    if (result.status < 200 || result.status >= 300 || !result.sdp) throw new Error(`the browser answered ${result.status}`);
    this.reanswered(result.sdp);
  }

  close(): void {
    this.#transport.close();
  }
}
