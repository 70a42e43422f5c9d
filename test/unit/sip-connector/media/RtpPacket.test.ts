import { describe, expect, it } from 'vitest';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RtpParseError } from '../../../../sip-connector/media/RtpParseError.js';
import { prng } from './support/tone.js';

describe('RtpPacket', () => {
  it('round-trips every header feature: marker, CSRCs, extension and padding', () => {
    const packet = RtpPacket.from({
      payloadType: 111, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, marker: true,
      csrcs: [1, 0xffffffff], extension: { profile: 0xbede, data: Uint8Array.of(0x10, 0xaa, 0, 0) },
      payload: Uint8Array.of(1, 2, 3), padding: 4,
    });
    const wire = packet.serialize();
    expect(wire.length).toBe(12 + 8 + 8 + 3 + 4);
    expect(wire[0]).toBe(0x80 | 0x20 | 0x10 | 2);
    expect(wire[wire.length - 1]).toBe(4);
    const parsed = RtpPacket.parse(wire);
    expect(parsed.payloadType).toBe(111);
    expect(parsed.sequenceNumber).toBe(65535);
    expect(parsed.timestamp).toBe(0xfffffff0);
    expect(parsed.ssrc).toBe(0xdeadbeef);
    expect(parsed.marker).toBe(true);
    expect(parsed.csrcs).toEqual([1, 0xffffffff]);
    expect(parsed.extension?.profile).toBe(0xbede);
    expect([...parsed.extension!.data]).toEqual([0x10, 0xaa, 0, 0]);
    expect([...parsed.payload]).toEqual([1, 2, 3]);
    expect(parsed.padding).toBe(4);
  });

  it('parses a minimal packet with a payload view into the datagram', () => {
    const wire = Buffer.from([0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7, 0xff, 0xfe]);
    const p = RtpPacket.parse(wire);
    expect(p.payloadType).toBe(0);
    expect(p.marker).toBe(false);
    expect(p.timestamp).toBe(160);
    expect([...p.payload]).toEqual([0xff, 0xfe]);
    expect(p.payload.buffer).toBe(wire.buffer);
  });

  const malformed: [string, number[], string][] = [
    ['too short', [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 'too-short'],
    ['version 1', [0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], 'bad-version'],
    ['CSRC count past the end', [0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1], 'csrc-overflow'],
    ['extension header truncated', [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde], 'extension-overflow'],
    ['extension length past the end', [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9, 0, 0, 0, 0],
      'extension-overflow'],
    ['padding count of zero', [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0], 'bad-padding'],
    ['padding longer than the payload', [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 9], 'bad-padding'],
  ];
  for (const [name, bytes, code] of malformed) {
    it(`rejects ${name} with RtpParseError(${code})`, () => {
      let caught: unknown;
      try {
        RtpPacket.parse(Uint8Array.from(bytes));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(RtpParseError);
      expect((caught as RtpParseError).code).toBe(code);
    });
  }

  it('never throws anything but RtpParseError on random datagrams', () => {
    const random = prng(4733);
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      const bytes = new Uint8Array(Math.floor(random() * 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      // Bias towards version 2 so the deeper checks are exercised too.
      if (bytes.length > 0 && random() < 0.8) bytes[0] = 0x80 | (bytes[0] & 0x3f);
      try {
        const p = RtpPacket.parse(bytes);
        parsed++;
        expect(p.payload.byteOffset + p.payload.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
      } catch (error) {
        if (!(error instanceof RtpParseError)) throw new Error(`iteration ${i}: ${String(error)}`);
      }
    }
    expect(parsed).toBeGreaterThan(1000);
  });

  it('refuses to serialize out-of-range fields', () => {
    expect(() => RtpPacket.from({ payloadType: 128, sequenceNumber: 0, timestamp: 0, ssrc: 0,
      payload: new Uint8Array(0) }).serialize()).toThrow(RangeError);
    expect(() => RtpPacket.from({ payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0,
      extension: { profile: 1, data: new Uint8Array(3) }, payload: new Uint8Array(0) }).serialize()).toThrow(RangeError);
  });
});
