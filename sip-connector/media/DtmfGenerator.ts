import { Rfc4733 } from './Rfc4733.js';

/** One telephone-event RTP packet to send: payload plus the header fields that differ from audio. */
export interface DtmfPacket {
  payload: Uint8Array;
  timestamp: number;
  marker: boolean;
  end: boolean;
}

/** How to render a key press. */
export interface DtmfGeneratorOptions {
  clockRate: number;
  ptimeMs?: number;
  /** Power level in -dBm0 (RFC 4733 §2.3.4); 10 is a typical handset level. */
  volume?: number;
  /** How many times the final (E bit) packet is sent; RFC 4733 §2.5.1.4 recommends 3. */
  endRepeats?: number;
}

/**
 * Renders a DTMF key press as the RFC 4733 packet sequence: all packets of one event share the start
 * timestamp, the first carries the marker bit, the duration grows by one packet time per packet, and the
 * final packet has the E bit and is repeated. Events too long for the 16-bit duration are split into
 * segments with advancing timestamps (§2.5.2.3); only the last segment ends with the E bit.
 */
export class DtmfGenerator {
  private readonly clockRate: number;
  private readonly ptimeSamples: number;
  private readonly volume: number;
  private readonly endRepeats: number;

  constructor(options: DtmfGeneratorOptions) {
    this.clockRate = options.clockRate;
    this.ptimeSamples = Math.round((options.clockRate * (options.ptimeMs ?? 20)) / 1000);
    this.volume = options.volume ?? 10;
    this.endRepeats = options.endRepeats ?? 3;
  }

  /** Packets for `digit` held `durationMs`, starting at RTP timestamp `startTimestamp`, one per packet time. */
  packets(digit: string, durationMs: number, startTimestamp: number): DtmfPacket[] {
    const event = Rfc4733.eventOf(digit);
    if (!(durationMs > 0)) throw new RangeError('durationMs must be positive');
    const total = Math.max(this.ptimeSamples, Math.round((durationMs * this.clockRate) / 1000));
    const segmentMax = Math.floor(Rfc4733.MAX_DURATION / this.ptimeSamples) * this.ptimeSamples;
    const out: DtmfPacket[] = [];
    let segmentStart = 0;
    let first = true;
    while (segmentStart < total) {
      const segmentLength = Math.min(segmentMax, total - segmentStart);
      const ts = (startTimestamp + segmentStart) >>> 0;
      const last = segmentStart + segmentLength >= total;
      for (let d = this.ptimeSamples; ; d += this.ptimeSamples) {
        const duration = Math.min(d, segmentLength);
        const end = last && duration === segmentLength;
        const repeats = end ? this.endRepeats : 1;
        for (let r = 0; r < repeats; r++) {
          const payload = new Uint8Array(Rfc4733.PAYLOAD_BYTES);
          Rfc4733.write({ event, end, volume: this.volume, duration }, payload);
          out.push({ payload, timestamp: ts, marker: first, end });
          first = false;
        }
        if (duration === segmentLength) break;
      }
      segmentStart += segmentLength;
    }
    return out;
  }
}
