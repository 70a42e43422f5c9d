import { describe, expect, it } from 'vitest';
import { AudioLevelStamp } from '../../../../sip-connector/media/AudioLevelStamp.js';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { tone } from './support/tone.js';

function pcmuPacket(amplitude: number): Buffer {
  const payload = new Uint8Array(160);
  new G711Codec('PCMU').encode(tone(1000, 8000, 160, amplitude), 160, payload);
  return RtpPacket.from({ payloadType: 0, sequenceNumber: 7, timestamp: 1600, ssrc: 42, marker: false, payload }).serialize();
}

describe('AudioLevelStamp', () => {
  const stamp = new AudioLevelStamp('PCMU', 1);

  it('adds an RFC 6464 one-byte extension whose level follows the loudness, keeping the payload', () => {
    for (const [amplitude, expected] of [[32000, 3], [3200, 23], [320, 43], [32, 63]] as const) {
      const original = pcmuPacket(amplitude);
      const stamped = RtpPacket.parse(stamp.stamp(original));
      const ext = stamped.extension!;
      expect(ext.profile).toBe(0xbede);
      expect(ext.data[0]).toBe(0x10);
      const level = ext.data[1]! & 0x7f;
      // A sine's RMS is 3 dB under its peak: -dBov = 20·log10(32768/(A/√2)).
      expect(Math.abs(level - expected), `amplitude ${amplitude}`).toBeLessThanOrEqual(1);
      expect(Boolean(ext.data[1]! & 0x80)).toBe(level <= 50);
      expect(Buffer.from(stamped.payload)).toEqual(Buffer.from(RtpPacket.parse(original).payload));
      expect(stamped.sequenceNumber).toBe(7);
    }
  });

  it('reports silence as 127 and leaves packets it cannot stamp alone', () => {
    const silent = RtpPacket.from({ payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1, marker: false,
      payload: new Uint8Array(160).fill(0xff) }).serialize();
    expect(RtpPacket.parse(stamp.stamp(silent)).extension!.data[1]).toBe(127);
    const withExtension = RtpPacket.from({ payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1, marker: false,
      payload: new Uint8Array(10), extension: { profile: 0xbede, data: new Uint8Array([0x21, 0, 0, 0]) } }).serialize();
    expect(stamp.stamp(withExtension)).toBe(withExtension);
    const junk = Buffer.from([1, 2, 3]);
    expect(stamp.stamp(junk)).toBe(junk);
    expect(() => new AudioLevelStamp('PCMA', 15)).toThrow(RangeError);
  });
});
