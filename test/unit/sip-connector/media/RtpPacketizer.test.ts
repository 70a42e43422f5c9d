import { describe, expect, it } from 'vitest';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RtpPacketizer } from '../../../../sip-connector/media/RtpPacketizer.js';

function send(p: RtpPacketizer, payload: number[]): RtpPacket {
  const buf = p.nextBuffer();
  RtpPacketizer.payloadView(buf).set(payload);
  return RtpPacket.parse(Buffer.from(p.finishAudio(buf, payload.length)));
}

describe('RtpPacketizer', () => {
  it('advances seq by 1 and timestamp by one ptime of clock, wrapping both', () => {
    const p = new RtpPacketizer({ payloadType: 0, clockRate: 8000, ssrc: 42, initialSequence: 65534,
      initialTimestamp: 0xffffff00 });
    const packets = [0, 1, 2, 3].map((i) => send(p, [i]));
    expect(packets.map((x) => x.sequenceNumber)).toEqual([65534, 65535, 0, 1]);
    expect(packets.map((x) => x.timestamp)).toEqual([0xffffff00, 0xffffffa0, 0x40, 0xe0]);
    expect(packets.every((x) => x.ssrc === 42 && x.payloadType === 0)).toBe(true);
    expect(packets.map((x) => [...x.payload][0])).toEqual([0, 1, 2, 3]);
  });

  it('uses the RTP clock, not the sample rate: Opus advances 960 per 20 ms, 1920 per 40 ms', () => {
    const opus = new RtpPacketizer({ payloadType: 111, clockRate: 48000, initialTimestamp: 0 });
    send(opus, [1]);
    expect(send(opus, [1]).timestamp).toBe(960);
    const opus40 = new RtpPacketizer({ payloadType: 111, clockRate: 48000, ptimeMs: 40, initialTimestamp: 0 });
    send(opus40, [1]);
    expect(send(opus40, [1]).timestamp).toBe(1920);
  });

  it('sets the marker on the first packet and on each talkspurt start only', () => {
    const p = new RtpPacketizer({ payloadType: 8, clockRate: 8000 });
    const marks = [send(p, [1]), send(p, [1])].map((x) => x.marker);
    p.markTalkspurt();
    marks.push(send(p, [1]).marker, send(p, [1]).marker);
    expect(marks).toEqual([true, false, true, false]);
  });

  it('picks random SSRC, sequence and timestamp per stream', () => {
    const streams = Array.from({ length: 20 }, () => new RtpPacketizer({ payloadType: 0, clockRate: 8000 }));
    expect(new Set(streams.map((s) => s.ssrc)).size).toBe(20);
    expect(new Set(streams.map((s) => s.nextSequence)).size).toBeGreaterThan(15);
    expect(new Set(streams.map((s) => s.nextTimestamp)).size).toBe(20);
  });

  it('shares the sequence space with events without moving the audio timestamp', () => {
    const p = new RtpPacketizer({ payloadType: 0, clockRate: 8000, initialSequence: 10, initialTimestamp: 1000 });
    send(p, [1]);
    const buf = p.nextBuffer();
    const ev = RtpPacket.parse(Buffer.from(p.finishOther(buf, 4, 101, 1160, true)));
    expect([ev.sequenceNumber, ev.timestamp, ev.payloadType, ev.marker]).toEqual([11, 1160, 101, true]);
    expect(send(p, [1]).timestamp).toBe(1160);
  });
});
