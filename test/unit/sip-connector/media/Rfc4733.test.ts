import { describe, expect, it } from 'vitest';
import { DtmfDetector, type DtmfEvent } from '../../../../sip-connector/media/DtmfDetector.js';
import { DtmfGenerator } from '../../../../sip-connector/media/DtmfGenerator.js';
import { Rfc4733 } from '../../../../sip-connector/media/Rfc4733.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RtpParseError } from '../../../../sip-connector/media/RtpParseError.js';

function rtp(payload: Uint8Array, timestamp: number, seq: number, marker = false, ssrc = 5): RtpPacket {
  return RtpPacket.from({ payloadType: 101, sequenceNumber: seq, timestamp, ssrc, marker, payload });
}

function event(ev: number, end: boolean, duration: number, volume = 10): Uint8Array {
  const b = new Uint8Array(4);
  Rfc4733.write({ event: ev, end, volume, duration }, b);
  return b;
}

describe('Rfc4733 payload', () => {
  it('encodes and decodes the event block bit-exactly', () => {
    const b = event(11, true, 1600, 63);
    expect([...b]).toEqual([11, 0x80 | 63, 0x06, 0x40]);
    expect(Rfc4733.parse(b)).toEqual({ event: 11, end: true, volume: 63, duration: 1600 });
    // The reserved bit is ignored on receive.
    expect(Rfc4733.parse(Uint8Array.of(1, 0x40 | 7, 0, 160))).toEqual({ event: 1, end: false, volume: 7, duration: 160 });
    expect(() => Rfc4733.parse(Uint8Array.of(1, 2, 3))).toThrow(RtpParseError);
  });

  it('maps digits both ways', () => {
    expect([...'0123456789*#ABCD'].map((d) => Rfc4733.eventOf(d))).toEqual([...Array(16).keys()]);
    expect(Rfc4733.eventOf('a')).toBe(12);
    expect(Rfc4733.digitOf(11)).toBe('#');
    expect(Rfc4733.digitOf(16)).toBeNull();
    expect(() => Rfc4733.eventOf('x')).toThrow(RangeError);
  });
});

describe('DtmfGenerator', () => {
  it('renders a key press: same timestamp, marker first, growing duration, E bit three times', () => {
    const packets = new DtmfGenerator({ clockRate: 8000 }).packets('5', 100, 12345);
    expect(packets.length).toBe(5 + 2);
    expect(packets.every((p) => p.timestamp === 12345)).toBe(true);
    expect(packets.map((p) => p.marker)).toEqual([true, false, false, false, false, false, false]);
    const parsed = packets.map((p) => Rfc4733.parse(p.payload));
    expect(parsed.map((e) => e.duration)).toEqual([160, 320, 480, 640, 800, 800, 800]);
    expect(parsed.map((e) => e.end)).toEqual([false, false, false, false, true, true, true]);
    expect(parsed.every((e) => e.event === 5 && e.volume === 10)).toBe(true);
  });

  it('splits events longer than the 16-bit duration into segments (48 kHz clock)', () => {
    const packets = new DtmfGenerator({ clockRate: 48000 }).packets('#', 2000, 0xffff0000);
    const timestamps = [...new Set(packets.map((p) => p.timestamp))];
    expect(timestamps.length).toBe(2);
    expect((timestamps[1] - timestamps[0]) >>> 0).toBe(Math.floor(65535 / 960) * 960);
    const last = Rfc4733.parse(packets[packets.length - 1].payload);
    expect(last.end).toBe(true);
    expect(packets.filter((p) => Rfc4733.parse(p.payload).end).length).toBe(3);
    expect(packets.filter((p) => p.marker).length).toBe(1);
  });
});

describe('DtmfDetector', () => {
  function detect(feed: (d: DtmfDetector) => void, clockRate = 8000): DtmfEvent[] {
    const events: DtmfEvent[] = [];
    feed(new DtmfDetector(clockRate, (e) => events.push(e)));
    return events;
  }

  it('reports one start and one end for a generated key press, with digit and duration', () => {
    const packets = new DtmfGenerator({ clockRate: 8000 }).packets('7', 120, 1000);
    const events = detect((d) => packets.forEach((p, i) => d.push(rtp(p.payload, p.timestamp, i, p.marker), i * 20)));
    expect(events).toEqual([
      { type: 'start', digit: '7', timestamp: 1000, volume: 10 },
      { type: 'end', digit: '7', timestamp: 1000, volume: 10, durationMs: 120, reason: 'end-bit' },
    ]);
  });

  it('ignores retransmitted end packets and network duplicates, even after the next digit', () => {
    const events = detect((d) => {
      d.push(rtp(event(1, false, 160), 0, 1, true), 0);
      d.push(rtp(event(1, false, 160), 0, 1, true), 1);
      d.push(rtp(event(1, true, 320), 0, 2), 20);
      d.push(rtp(event(1, true, 320), 0, 3), 21);
      d.push(rtp(event(2, false, 160), 800, 4, true), 100);
      d.push(rtp(event(1, true, 320), 0, 3), 101);
      d.push(rtp(event(2, true, 160), 800, 5), 120);
    });
    expect(events.map((e) => `${e.type}:${e.digit}`)).toEqual(['start:1', 'end:1', 'start:2', 'end:2']);
  });

  it('starts and ends an event whose only surviving packet is an end packet', () => {
    const events = detect((d) => d.push(rtp(event(10, true, 800), 500, 9), 0));
    expect(events.map((e) => `${e.type}:${e.digit}:${e.durationMs ?? ''}`)).toEqual(['start:*:', 'end:*:100']);
  });

  it('ends an event superseded by the next one, or after a timeout when its end packets are lost', () => {
    const events = detect((d) => {
      d.push(rtp(event(3, false, 160), 0, 1, true), 0);
      d.push(rtp(event(4, false, 160), 1600, 2, true), 200);
      d.poll(500);
      d.poll(1300);
    });
    expect(events.map((e) => `${e.type}:${e.digit}:${e.reason ?? ''}`))
      .toEqual(['start:3:', 'end:3:superseded', 'start:4:', 'end:4:timeout']);
  });

  it('joins the segments of a long event into one key press', () => {
    const packets = new DtmfGenerator({ clockRate: 48000 }).packets('9', 2000, 0);
    const events = detect((d) => packets.forEach((p, i) => d.push(rtp(p.payload, p.timestamp, i, p.marker), i * 20)),
      48000);
    expect(events.map((e) => e.type)).toEqual(['start', 'end']);
    expect(events[1].durationMs).toBe(2000);
  });

  it('counts malformed payloads without throwing', () => {
    const d = new DtmfDetector(8000, () => {});
    d.push(rtp(Uint8Array.of(1), 0, 1), 0);
    expect(d.malformed).toBe(1);
  });
});
