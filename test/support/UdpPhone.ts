import dgram from 'node:dgram';
import { G711Codec } from '../../sip-connector/media/G711Codec.js';
import { RtpPacket } from '../../sip-connector/media/RtpPacket.js';
import { ToneRtpSender } from '../unit/sip-connector/media/support/rtpStream.js';
import { concat } from '../unit/sip-connector/media/support/tone.js';

const HOST = '127.0.0.1';

/** A phone on a UDP socket: sends a tone in PCMU, records what it receives. */
export class UdpPhone {
  readonly received: Buffer[] = [];
  readonly sender: ToneRtpSender;
  private constructor(readonly socket: dgram.Socket, toneHz: number, amplitude: number) {
    this.sender = new ToneRtpSender('PCMU', 0, toneHz, amplitude);
    socket.on('message', (data) => this.received.push(data));
  }

  /** A phone sending `toneHz` at `amplitude` (0 sends silence). */
  static async open(toneHz: number, amplitude = 6000): Promise<UdpPhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    return new UdpPhone(socket, toneHz, amplitude);
  }

  get port(): number {
    return this.socket.address().port;
  }

  offer(): string {
    return ['v=0', `o=phone 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0',
      `m=audio ${this.port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', ''].join('\r\n');
  }

  /** Decoded audio of the audio packets received so far, skipping the first `skip` (jitter settling). */
  heard(skip = 10): Int16Array {
    const codec = new G711Codec('PCMU');
    const frames = this.received.map((d) => RtpPacket.parse(d)).filter((p) => p.payloadType === 0).slice(skip).map((p) => {
      const pcm = new Int16Array(p.payload.length);
      codec.decode(p.payload, pcm);
      return pcm;
    });
    return concat(frames);
  }

  close(): void {
    this.sender.close();
    this.socket.close();
  }
}

