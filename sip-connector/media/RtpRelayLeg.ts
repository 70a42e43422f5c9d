import { randomInt } from 'node:crypto';
import { DtmfGenerator, type DtmfPacket } from './DtmfGenerator.js';
import { MediaConfigError } from './MediaConfigError.js';
import { RtpPacketizer } from './RtpPacketizer.js';
import { RtpStreamContinuity } from './RtpStreamContinuity.js';

/** Configuration of a leg that relays one source's packets untranscoded. */
export interface RtpRelayLegOptions {
  legId: string;
  codec: string;
  /** The payload type the leg's receiver negotiated for the codec (the source's is rewritten to it). */
  payloadType: number;
  clockRate: number;
  ptimeMs?: number;
  dtmfPayloadType?: number;
  /** Fixed for tests; random by default. */
  ssrc?: number;
}

const HEADER = 12;
const MAX_PAYLOAD = 1500;
/** A gap in the source's sequence numbers up to this many packets is kept (the receiver sees the loss). */
const MAX_KEPT_GAP = 100;

/**
 * A leg that forwards one source's RTP as it is (the same codec on both sides: no decode, no mix): one
 * SSRC of its own, the receiver's payload type, no header extensions or CSRCs, sequence numbers and
 * timestamps continuous across restarts of the source. A key press sent to the leg replaces the audio for
 * the event's length with RFC 4733 packets in the same sequence space, one per packet time.
 */
export class RtpRelayLeg {
  readonly legId: string;
  readonly payloadType: number;
  /** Our stream: its SSRC, sequence numbers and packet buffers. */
  readonly #out: RtpPacketizer;
  readonly #codec: string;
  readonly #samplesPerPacket: number;
  readonly #clockRate: number;
  readonly #dtmfPayloadType: number | null;
  readonly #dtmf: DtmfGenerator | null;
  readonly #continuity: RtpStreamContinuity;
  readonly #header = Buffer.alloc(HEADER);
  readonly #pendingDigits: Array<{ digit: string; durationMs: number }> = [];
  #event: DtmfPacket[] = [];
  #eventCursor = 0;
  /** Sequence number (after continuity) and timestamp of the last audio packet relayed; null before the first. */
  #lastIn: { seq: number; ts: number; at: number } | null = null;
  #markNext = true;
  /** The source it relays, or null while it has none (its sender has not joined yet). */
  sourceId: string | null = null;

  constructor(options: RtpRelayLegOptions) {
    const ptimeMs = options.ptimeMs ?? 20;
    // Validates the payload type and packet time.
    this.#out = new RtpPacketizer({ payloadType: options.payloadType, clockRate: options.clockRate, ptimeMs, maxPayload: MAX_PAYLOAD,
      ...(options.ssrc !== undefined ? { ssrc: options.ssrc } : {}) });
    this.legId = options.legId;
    this.#codec = options.codec;
    this.payloadType = options.payloadType;
    this.#clockRate = options.clockRate;
    this.#samplesPerPacket = Math.round((options.clockRate * ptimeMs) / 1000);
    this.#dtmfPayloadType = options.dtmfPayloadType ?? null;
    this.#dtmf = this.#dtmfPayloadType === null ? null : new DtmfGenerator({ clockRate: options.clockRate, ptimeMs });
    this.#continuity = new RtpStreamContinuity(options.clockRate);
  }

  /**
   * The leg's datagram for one audio packet of its source (plain RTP, already authenticated), or null when
   * it is not sent: a key press is being played, or the packet is older than one already relayed.
   */
  relay(packet: Buffer, nowMs: number): Buffer | null {
    if (packet.length < HEADER) return null;
    const csrcBytes = (packet[0]! & 0x0f) * 4;
    let offset = HEADER + csrcBytes;
    if (packet[0]! & 0x10) {
      if (packet.length < offset + 4) return null;
      offset += 4 + packet.readUInt16BE(offset + 2) * 4;
    }
    let end = packet.length;
    if (packet[0]! & 0x20) end -= packet[end - 1]!;
    if (end <= offset || end - offset > MAX_PAYLOAD) return null;
    // The source's header, made continuous, in a scratch buffer of the leg's (nothing allocated per packet).
    const header = this.#header;
    packet.copy(header, 0, 0, HEADER);
    this.#continuity.rewrite(header, nowMs);
    const inSeq = header.readUInt16BE(2);
    const ts = header.readUInt32BE(4);
    const delta = this.#lastIn === null ? 1 : (inSeq - this.#lastIn.seq + 0x10000) & 0xffff;
    if (delta === 0 || delta >= 0x8000) return null;
    this.#lastIn = { seq: inSeq, ts, at: nowMs };
    // While a key press plays, the audio it replaces is dropped without leaving a gap.
    if (this.#eventCursor < this.#event.length) return null;
    if (delta <= MAX_KEPT_GAP) this.#out.skipSequence(delta - 1);
    const out = this.#out.nextBuffer();
    packet.copy(out, HEADER, offset, end);
    const marker = this.#markNext || (header[1]! & 0x80) !== 0;
    this.#markNext = false;
    return this.#out.finishOther(out, end - offset, this.payloadType, ts, marker);
  }

  get ssrc(): number {
    return this.#out.ssrc;
  }

  /** Audio and RFC 4733 packets sent. */
  get packetsSent(): number {
    return this.#out.packetsSent;
  }

  /** Queues a key press: once the current one (if any) is done, audio pauses for its RFC 4733 events. */
  sendDtmf(digit: string, durationMs = 100): void {
    if (!this.#dtmf) throw new MediaConfigError(`leg ${this.legId} has no telephone-event payload type`);
    // Rendered once now, so a bad digit fails the request instead of a later tick.
    this.#dtmf.packets(digit, durationMs, 0);
    this.#pendingDigits.push({ digit, durationMs });
  }

  /** The RFC 4733 packet due at this tick (one per packet time), or null. */
  tick(nowMs: number): Buffer | null {
    if (this.#eventCursor >= this.#event.length) {
      const next = this.#pendingDigits.shift();
      if (!next || !this.#dtmf) return null;
      // The event starts where the audio would be now: the last relayed timestamp plus the time since.
      const base = this.#lastIn === null ? randomInt(0, 2 ** 32 - 1)
        : this.#lastIn.ts + Math.max(this.#samplesPerPacket, Math.round(((nowMs - this.#lastIn.at) * this.#clockRate) / 1000));
      this.#event = this.#dtmf.packets(next.digit, next.durationMs, base >>> 0);
      this.#eventCursor = 0;
    }
    const event = this.#event[this.#eventCursor++]!;
    if (this.#eventCursor >= this.#event.length) this.#markNext = true;
    const out = this.#out.nextBuffer();
    out.set(event.payload, HEADER);
    return this.#out.finishOther(out, event.payload.length, this.#dtmfPayloadType ?? 0, event.timestamp, event.marker);
  }

  /** The leg's path as one line, like AudioLegPipeline.describe(). */
  describe(): string {
    const dtmf = this.#dtmfPayloadType === null ? '' : ` + dtmf(pt=${this.#dtmfPayloadType})`;
    return `relay(${this.sourceId ?? 'none'}) → rtp(${this.#codec}, pt=${this.payloadType}, untranscoded${dtmf})`;
  }
}
