import { randomInt } from 'node:crypto';
import { MediaConfigError } from './MediaConfigError.js';

/** Configuration of an outgoing RTP stream. */
export interface RtpPacketizerOptions {
  payloadType: number;
  clockRate: number;
  /** Packet duration in ms; the timestamp advances by ptime × clockRate / 1000 per packet. */
  ptimeMs?: number;
  /** Fixed values for tests; random by default (RFC 3550 §5.1 wants random initial seq and timestamp). */
  ssrc?: number;
  initialSequence?: number;
  initialTimestamp?: number;
  /** Largest payload this stream will carry; sizes the preallocated packet buffers. */
  maxPayload?: number;
}

const HEADER = 12;
// A datagram handed to dgram.send must not change until the send completes; a small ring covers that.
const RING = 8;

/**
 * Builds the outgoing RTP packets of one stream: continuous sequence numbers, timestamps advancing by the
 * frame duration in clock units, marker bit on the first packet of each talkspurt, and a random SSRC and
 * starting points. Writes headers in place into a ring of preallocated buffers, so producing a packet
 * allocates nothing.
 */
export class RtpPacketizer {
  readonly payloadType: number;
  readonly clockRate: number;
  readonly ptimeMs: number;
  readonly samplesPerPacket: number;
  readonly ssrc: number;
  private seq: number;
  private ts: number;
  private talkspurtPending = true;
  private readonly ring: Buffer[];
  private ringIndex = 0;
  packetsSent = 0;

  constructor(options: RtpPacketizerOptions) {
    if (!Number.isInteger(options.payloadType) || options.payloadType < 0 || options.payloadType > 127) {
      throw new MediaConfigError(`payload type ${options.payloadType} out of range`);
    }
    this.payloadType = options.payloadType;
    this.clockRate = options.clockRate;
    this.ptimeMs = options.ptimeMs ?? 20;
    this.samplesPerPacket = (this.clockRate * this.ptimeMs) / 1000;
    if (!Number.isInteger(this.samplesPerPacket) || this.samplesPerPacket <= 0) {
      throw new MediaConfigError(`ptime ${this.ptimeMs} ms is not a whole number of ${this.clockRate} Hz ticks`);
    }
    this.ssrc = (options.ssrc ?? randomInt(1, 2 ** 32 - 1)) >>> 0;
    this.seq = (options.initialSequence ?? randomInt(0, 65536)) & 0xffff;
    this.ts = (options.initialTimestamp ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
    const size = HEADER + (options.maxPayload ?? 1500);
    this.ring = Array.from({ length: RING }, () => Buffer.alloc(size));
  }

  /** Sequence number the next packet will carry. */
  get nextSequence(): number {
    return this.seq;
  }

  /** Timestamp the next audio packet will carry. */
  get nextTimestamp(): number {
    return this.ts;
  }

  /** Sets the marker on the next packet: audio resumes after a pause (RFC 3551 §4.1). */
  markTalkspurt(): void {
    this.talkspurtPending = true;
  }

  /**
   * Returns a buffer to write a payload into at offset 12; after filling `payloadLength` bytes call
   * `finish` with the same buffer. Split this way so encoders write straight into the datagram.
   */
  nextBuffer(): Buffer {
    const buf = this.ring[this.ringIndex];
    this.ringIndex = (this.ringIndex + 1) % RING;
    return buf;
  }

  /** Payload area of a buffer from nextBuffer. */
  static payloadView(buf: Buffer): Buffer {
    return buf.subarray(HEADER);
  }

  /**
   * Writes the header of the next audio packet into buf and advances seq and timestamp by one frame.
   * Returns the datagram (a view of buf).
   */
  finishAudio(buf: Buffer, payloadLength: number): Buffer {
    const marker = this.talkspurtPending;
    this.talkspurtPending = false;
    this.writeHeader(buf, marker, this.payloadType, this.ts);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + this.samplesPerPacket) >>> 0;
    this.packetsSent++;
    return buf.subarray(0, HEADER + payloadLength);
  }

  /**
   * Writes a packet that shares this stream's sequence space but carries its own payload type and
   * timestamp (RFC 4733 events). Does not advance the audio timestamp.
   */
  finishOther(buf: Buffer, payloadLength: number, payloadType: number, timestamp: number, marker: boolean): Buffer {
    this.writeHeader(buf, marker, payloadType, timestamp);
    this.seq = (this.seq + 1) & 0xffff;
    this.packetsSent++;
    return buf.subarray(0, HEADER + payloadLength);
  }

  /** Skips `count` sequence numbers: packets lost before a relay, so its receiver sees the loss too. */
  skipSequence(count: number): void {
    this.seq = (this.seq + count) & 0xffff;
  }

  /** Advances the timestamp without sending (a frame was skipped, e.g. replaced by DTMF). */
  skipFrame(): void {
    this.ts = (this.ts + this.samplesPerPacket) >>> 0;
  }

  private writeHeader(buf: Buffer, marker: boolean, payloadType: number, timestamp: number): void {
    buf[0] = 0x80;
    buf[1] = (marker ? 0x80 : 0) | payloadType;
    buf.writeUInt16BE(this.seq, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(this.ssrc, 8);
  }
}
