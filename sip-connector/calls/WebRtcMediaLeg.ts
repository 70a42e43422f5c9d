import type { types } from 'mediasoup';
import { UnsupportedError } from '../../server/errors.js';
import type { Participant } from '../../server/rooms/Participant.js';
import type { ProducerAppData, TransportListenConfig } from '../../server/rooms/RoomTypes.js';
import type { PhoneCodecName } from './PhoneSdp.js';
import {
  buildWebRtcAnswer, consumerRtpCapabilities, producerRtpParameters, type WebRtcOffer, type WebRtcOfferedCodec,
} from './WebRtcSdp.js';

/**
 * The media of a browser SIP client's call: a mediasoup WebRtcTransport of a room participant (ICE-lite,
 * DTLS-SRTP, the same listen and announced addresses as the rooms), the browser's audio as its producer
 * and what the browser hears as a consumer on the same BUNDLE transport. Packets are forwarded by
 * mediasoup as they are: only SRTP changes.
 */
export class WebRtcMediaLeg {
  readonly participant: Participant;
  readonly codec: WebRtcOfferedCodec;
  readonly #offer: WebRtcOffer;
  readonly #transport: types.WebRtcTransport;
  #consumer: types.Consumer | null = null;
  #version = 1;
  readonly #sessionId = String(Math.floor(Math.random() * 2 ** 31));

  private constructor(participant: Participant, offer: WebRtcOffer, codec: WebRtcOfferedCodec, transport: types.WebRtcTransport) {
    this.participant = participant;
    this.#offer = offer;
    this.codec = codec;
    this.#transport = transport;
  }

  /** The first codec of the browser's offer that `acceptable` allows; 488 when none. */
  static pickCodec(offer: WebRtcOffer, acceptable: readonly PhoneCodecName[]): WebRtcOfferedCodec {
    const codec = offer.audio.codecs.find((candidate) => acceptable.includes(candidate.name));
    if (!codec) throw new UnsupportedError(`SDP: no common audio codec (the offer has ${offer.audio.codecs.map((c) => c.name).join(', ') || 'none we know'})`);
    return codec;
  }

  /** Opens the transport for `participant`, connects DTLS with the browser's fingerprint and takes its audio. */
  static async open(participant: Participant, listen: TransportListenConfig, offer: WebRtcOffer, codec: WebRtcOfferedCodec): Promise<WebRtcMediaLeg> {
    const transport = await participant.createWebRtcTransport(listen, 'send');
    const leg = new WebRtcMediaLeg(participant, offer, codec, transport as types.WebRtcTransport);
    try {
      await participant.connectWebRtcTransport(transport.id, offer.dtlsParameters);
      const { direction } = offer.audio;
      if (direction === 'sendrecv' || direction === 'sendonly') {
        await participant.produce(transport.id, 'audio', producerRtpParameters(offer, codec), 'mic');
      }
    } catch (error) {
      transport.close();
      throw error;
    }
    return leg;
  }

  /** Sends `producer` (the other party's audio, in the leg's codec) to the browser. */
  async consume(producer: types.Producer<ProducerAppData>): Promise<void> {
    const consumer = await this.participant.consume(this.#transport.id, producer, consumerRtpCapabilities(this.codec));
    await consumer.resume();
    this.#consumer = consumer;
  }

  /** Our SDP answer to the browser's offer. */
  answer(): string {
    const consumer = this.#consumer;
    const ssrc = consumer?.rtpParameters.encodings?.[0]?.ssrc;
    return buildWebRtcAnswer({
      offer: this.#offer, codec: this.codec,
      iceParameters: this.#transport.iceParameters, iceCandidates: this.#transport.iceCandidates,
      dtlsParameters: this.#transport.dtlsParameters,
      sending: consumer && ssrc !== undefined ? { ssrc, cname: consumer.rtpParameters.rtcp?.cname ?? 'conflux' } : null,
      sessionId: this.#sessionId, version: this.#version,
    });
  }

  /** The DTLS and ICE state of the transport, for diagnostics and tests. */
  get state(): { ice: types.IceState; dtls: types.DtlsState } {
    return { ice: this.#transport.iceState, dtls: this.#transport.dtlsState };
  }

  close(): void {
    this.#transport.close();
  }
}
