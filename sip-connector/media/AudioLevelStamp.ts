import { G711Codec, type G711Law } from './G711Codec.js';

/** The RFC 6464 client-to-mixer audio level extension, as mediasoup's speaker observers read it. */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** Levels are -dBov, 0 (loudest) to 127 (silence). */
const SILENCE = 127;
/** Louder than this (-dBov) counts as voice activity. */
const VOICE_THRESHOLD = 50;

/**
 * Stamps phone RTP with an RFC 6464 audio level (one-byte header extension, RFC 8285) computed from
 * the G.711 payload, so the SFU's active-speaker detection sees phones the way it sees browsers,
 * which send the extension themselves. Packets that already carry an extension pass unchanged.
 */
export class AudioLevelStamp {
  private readonly codec: G711Codec;
  private readonly pcm = new Int16Array(480);

  constructor(law: G711Law, private readonly extensionId: number) {
    if (!Number.isInteger(extensionId) || extensionId < 1 || extensionId > 14) {
      throw new RangeError('one-byte header extension ids are 1 to 14');
    }
    this.codec = new G711Codec(law);
  }

  /** -dBov of a G.711 payload (0 loudest, 127 silence). */
  level(payload: Uint8Array): number {
    const samples = Math.min(payload.length, this.pcm.length);
    if (samples === 0) return SILENCE;
    this.codec.decode(payload.subarray(0, samples), this.pcm);
    let energy = 0;
    for (let i = 0; i < samples; i++) energy += this.pcm[i]! * this.pcm[i]!;
    const rms = Math.sqrt(energy / samples);
    if (rms < 1) return SILENCE;
    return Math.min(SILENCE, Math.max(0, Math.round(-20 * Math.log10(rms / 32768))));
  }

  /** A copy of `packet` with the level extension inserted (or `packet` itself when it cannot be). */
  stamp(packet: Buffer): Buffer {
    if (packet.length < 12 || packet[0]! >> 6 !== 2 || (packet[0]! & 0x10) !== 0) return packet;
    const csrcBytes = (packet[0]! & 0x0f) * 4;
    const headerEnd = 12 + csrcBytes;
    if (headerEnd > packet.length) return packet;
    const payloadEnd = packet[0]! & 0x20 ? packet.length - packet[packet.length - 1]! : packet.length;
    if (payloadEnd < headerEnd) return packet;
    const level = this.level(packet.subarray(headerEnd, payloadEnd));
    const out = Buffer.allocUnsafe(packet.length + 8);
    packet.copy(out, 0, 0, headerEnd);
    out[0] = out[0]! | 0x10;
    // 0xBEDE profile, one 32-bit word: [id|len=0][V|level][pad][pad]
    out.writeUInt16BE(0xbede, headerEnd);
    out.writeUInt16BE(1, headerEnd + 2);
    out[headerEnd + 4] = (this.extensionId << 4) | 0;
    out[headerEnd + 5] = (level <= VOICE_THRESHOLD ? 0x80 : 0) | level;
    out[headerEnd + 6] = 0;
    out[headerEnd + 7] = 0;
    packet.copy(out, headerEnd + 8, headerEnd);
    return out;
  }
}
