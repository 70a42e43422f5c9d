import { describe, expect, it } from 'vitest';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RtpStreamContinuity } from '../../../../sip-connector/media/RtpStreamContinuity.js';

const packet = (ssrc: number, seq: number, ts: number) => Buffer.from(RtpPacket.from({
  payloadType: 0, sequenceNumber: seq, timestamp: ts, ssrc, marker: false, payload: new Uint8Array(160),
}).serialize());

describe('RtpStreamContinuity', () => {
  it('passes one stream through as it is', () => {
    const continuity = new RtpStreamContinuity(8000);
    for (let i = 0; i < 5; i++) {
      const p = packet(1, 65534 + i, 4294967000 + i * 160);
      expect(continuity.rewrite(p, i * 20)).toBe(false);
      const out = RtpPacket.parse(p);
      expect(out.sequenceNumber).toBe((65534 + i) & 0xffff);
      expect(out.timestamp).toBe((4294967000 + i * 160) >>> 0);
    }
  });

  it('continues sequence numbers and timestamps across a restarted source (new SSRC, random bases) and marks it', () => {
    const continuity = new RtpStreamContinuity(8000);
    for (let i = 0; i < 3; i++) continuity.rewrite(packet(1, 100 + i, 1000 + i * 160), i * 20);
    // Two seconds of silence (hold), then a new stream from the same phone.
    const restart = packet(2, 40_000, 7_000_000);
    expect(continuity.rewrite(restart, 2040)).toBe(true);
    const out = RtpPacket.parse(restart);
    expect(out.sequenceNumber).toBe(103);
    expect(out.timestamp).toBe(1000 + 2 * 160 + 2000 * 8);
    expect(out.marker).toBe(true);
    const next = packet(2, 40_001, 7_000_160);
    expect(continuity.rewrite(next, 2060)).toBe(false);
    expect(RtpPacket.parse(next)).toMatchObject({ sequenceNumber: 104, timestamp: out.timestamp + 160, marker: false });
  });

  it('takes a sequence jump no reordering explains as a restart, but not a late packet', () => {
    const continuity = new RtpStreamContinuity(8000);
    for (let i = 0; i < 3; i++) continuity.rewrite(packet(1, 500 + i, i * 160), i * 20);
    const late = packet(1, 499, 0);
    expect(continuity.rewrite(late, 60)).toBe(false);
    expect(RtpPacket.parse(late).sequenceNumber).toBe(499);
    const jumped = packet(1, 20_000, 99_999);
    expect(continuity.rewrite(jumped, 80)).toBe(true);
    expect(RtpPacket.parse(jumped).sequenceNumber).toBe(503);
  });
});
