import { G711Codec } from '../../../../../sip-connector/media/G711Codec.js';
import { OpusCodec } from '../../../../../sip-connector/media/OpusCodec.js';
import { RtpPacket } from '../../../../../sip-connector/media/RtpPacket.js';
import { tone } from './tone.js';

/** Produces 20 ms RTP packets of a tone in PCMU, PCMA or Opus, as a phone or browser would send them. */
export class ToneRtpSender {
  private frame = 0;
  private readonly codec: G711Codec | OpusCodec;
  private readonly rate: number;
  private readonly buf = new Uint8Array(4000);

  constructor(
    readonly codecName: 'PCMU' | 'PCMA' | 'opus',
    readonly payloadType: number,
    readonly frequency: number,
    readonly amplitude = 6000,
    readonly ssrc = Math.floor(Math.random() * 2 ** 32),
  ) {
    this.codec = codecName === 'opus' ? new OpusCodec({ bitrate: 48000 }) : new G711Codec(codecName);
    this.rate = codecName === 'opus' ? 48000 : 8000;
  }

  /** The next packet's datagram. */
  next(): Buffer {
    const samples = this.rate / 50;
    const pcm = tone(this.frequency, this.rate, samples, this.amplitude, this.frame * samples);
    const n = this.codec.encode(pcm, samples, this.buf);
    const packet = RtpPacket.from({ payloadType: this.payloadType, sequenceNumber: (1000 + this.frame) & 0xffff,
      timestamp: (5000 + this.frame * samples) >>> 0, ssrc: this.ssrc, marker: this.frame === 0,
      payload: this.buf.subarray(0, n) });
    this.frame++;
    return packet.serialize();
  }

  close(): void {
    this.codec.close();
  }
}
