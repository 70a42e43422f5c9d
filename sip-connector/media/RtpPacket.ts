import { RtpParseError } from './RtpParseError.js';

const FIXED_HEADER = 12;

/** RTP header extension block as carried on the wire (RFC 3550 §5.3.1); the profile decides its meaning. */
export interface RtpExtension {
  profile: number;
  data: Uint8Array;
}

/** Fields of an RTP packet to serialize; omitted ones default to none/false. */
export interface RtpPacketFields {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  csrcs?: number[];
  extension?: RtpExtension | null;
  payload: Uint8Array;
  /** Bytes of padding to append (RFC 3550 §5.1 P bit), 0..255. */
  padding?: number;
}

/**
 * One RTP packet (RFC 3550). `parse` validates every length field against the datagram so a hostile
 * packet yields an RtpParseError instead of an out-of-range read; payload and extension data are views
 * into the original datagram (no copy on the receive path).
 */
export class RtpPacket {
  constructor(
    readonly payloadType: number,
    readonly sequenceNumber: number,
    readonly timestamp: number,
    readonly ssrc: number,
    readonly marker: boolean,
    readonly csrcs: readonly number[],
    readonly extension: RtpExtension | null,
    readonly payload: Uint8Array,
    readonly padding: number,
  ) {}

  /** Parses a datagram; throws RtpParseError if it is not valid RTP version 2. */
  static parse(data: Uint8Array): RtpPacket {
    if (data.length < FIXED_HEADER) throw new RtpParseError('too-short', `RTP packet of ${data.length} bytes`);
    const b0 = data[0];
    if (b0 >> 6 !== 2) throw new RtpParseError('bad-version', `RTP version ${b0 >> 6}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const hasPadding = (b0 & 0x20) !== 0;
    const hasExtension = (b0 & 0x10) !== 0;
    const csrcCount = b0 & 0x0f;
    const b1 = data[1];
    let offset = FIXED_HEADER + csrcCount * 4;
    if (offset > data.length) throw new RtpParseError('csrc-overflow', `${csrcCount} CSRCs exceed the packet`);
    const csrcs: number[] = [];
    for (let i = 0; i < csrcCount; i++) csrcs.push(view.getUint32(FIXED_HEADER + i * 4));
    let extension: RtpExtension | null = null;
    if (hasExtension) {
      if (offset + 4 > data.length) throw new RtpParseError('extension-overflow', 'extension header truncated');
      const profile = view.getUint16(offset);
      const words = view.getUint16(offset + 2);
      const end = offset + 4 + words * 4;
      if (end > data.length) throw new RtpParseError('extension-overflow', `extension of ${words} words truncated`);
      extension = { profile, data: data.subarray(offset + 4, end) };
      offset = end;
    }
    let end = data.length;
    let padding = 0;
    if (hasPadding) {
      padding = data[data.length - 1];
      // The count includes itself, so 0 is invalid (RFC 3550 §5.1).
      if (padding === 0 || offset + padding > data.length) {
        throw new RtpParseError('bad-padding', `padding of ${padding} bytes is invalid here`);
      }
      end -= padding;
    }
    return new RtpPacket(b1 & 0x7f, view.getUint16(2), view.getUint32(4), view.getUint32(8), (b1 & 0x80) !== 0,
      csrcs, extension, data.subarray(offset, end), padding);
  }

  /** Builds a packet from fields, validating ranges. */
  static from(fields: RtpPacketFields): RtpPacket {
    return new RtpPacket(fields.payloadType, fields.sequenceNumber, fields.timestamp, fields.ssrc,
      fields.marker ?? false, fields.csrcs ?? [], fields.extension ?? null, fields.payload, fields.padding ?? 0);
  }

  /** Size in bytes of the serialized packet. */
  get byteLength(): number {
    const ext = this.extension ? 4 + this.extension.data.length : 0;
    return FIXED_HEADER + this.csrcs.length * 4 + ext + this.payload.length + this.padding;
  }

  /** Serializes into a new Buffer. */
  serialize(): Buffer {
    const out = Buffer.allocUnsafe(this.byteLength);
    this.serializeInto(out);
    return out;
  }

  /** Serializes into `out` (which must be large enough) and returns the byte count. */
  serializeInto(out: Uint8Array): number {
    if (this.payloadType < 0 || this.payloadType > 127) throw new RangeError('payloadType must be 0..127');
    if (this.csrcs.length > 15) throw new RangeError('at most 15 CSRCs');
    if (this.padding < 0 || this.padding > 255) throw new RangeError('padding must be 0..255');
    if (this.extension && this.extension.data.length % 4 !== 0) {
      throw new RangeError('extension data must be a multiple of 4 bytes');
    }
    const length = this.byteLength;
    if (out.length < length) throw new RangeError(`output buffer of ${out.length} bytes, need ${length}`);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out[0] = 0x80 | (this.padding > 0 ? 0x20 : 0) | (this.extension ? 0x10 : 0) | this.csrcs.length;
    out[1] = (this.marker ? 0x80 : 0) | this.payloadType;
    view.setUint16(2, this.sequenceNumber & 0xffff);
    view.setUint32(4, this.timestamp >>> 0);
    view.setUint32(8, this.ssrc >>> 0);
    let offset = FIXED_HEADER;
    for (const csrc of this.csrcs) {
      view.setUint32(offset, csrc >>> 0);
      offset += 4;
    }
    if (this.extension) {
      view.setUint16(offset, this.extension.profile);
      view.setUint16(offset + 2, this.extension.data.length / 4);
      out.set(this.extension.data, offset + 4);
      offset += 4 + this.extension.data.length;
    }
    out.set(this.payload, offset);
    offset += this.payload.length;
    if (this.padding > 0) {
      out.fill(0, offset, offset + this.padding - 1);
      out[offset + this.padding - 1] = this.padding;
      offset += this.padding;
    }
    return offset;
  }
}
