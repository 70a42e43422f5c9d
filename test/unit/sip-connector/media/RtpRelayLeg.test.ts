import { describe, expect, it } from 'vitest';
import { Rfc4733 } from '../../../../sip-connector/media/Rfc4733.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RtpRelayLeg } from '../../../../sip-connector/media/RtpRelayLeg.js';

/** A packet as a mediasoup consumer sends it: its own payload type, SSRC, a header extension and padding. */
function consumerPacket(seq: number, ts: number, fill: number, ssrc = 0x1234): Buffer {
  const payload = new Uint8Array(160).fill(fill);
  const rtp = Buffer.from(RtpPacket.from({
    payloadType: 100, sequenceNumber: seq, timestamp: ts, ssrc, marker: false, payload,
    extension: { profile: 0xbede, data: new Uint8Array([0x10, 0xaa, 0, 0]) },
  }).serialize());
  // Four bytes of padding, the last saying how many.
  const padded = Buffer.concat([rtp, Buffer.from([0, 0, 0, 4])]);
  padded[0] = padded[0]! | 0x20;
  return padded;
}

describe('RtpRelayLeg', () => {
  it('forwards the payload as it is under its own SSRC and payload type, without extension or padding', () => {
    const leg = new RtpRelayLeg({ legId: 'l', codec: 'PCMU', payloadType: 0, clockRate: 8000, ssrc: 77 });
    const outs = [0, 1, 2].map((i) => RtpPacket.parse(leg.relay(consumerPacket(1000 + i, 5000 + i * 160, i + 1), i * 20)!));
    for (const [i, out] of outs.entries()) {
      expect(out).toMatchObject({ payloadType: 0, ssrc: 77, extension: null, padding: 0, timestamp: 5000 + i * 160 });
      expect([...out.payload]).toEqual(new Array(160).fill(i + 1));
    }
    expect(outs[1]!.sequenceNumber).toBe((outs[0]!.sequenceNumber + 1) & 0xffff);
    expect(outs[0]!.marker).toBe(true);
    expect(outs[1]!.marker).toBe(false);
    expect(leg.describe()).toContain('untranscoded');
  });

  it('keeps a loss visible, drops duplicates and late packets, and stays continuous when the source restarts', () => {
    const leg = new RtpRelayLeg({ legId: 'l', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    const first = RtpPacket.parse(leg.relay(consumerPacket(10, 0, 1), 0)!);
    // Packet 11 lost.
    const third = RtpPacket.parse(leg.relay(consumerPacket(12, 320, 1), 40)!);
    expect(third.sequenceNumber).toBe((first.sequenceNumber + 2) & 0xffff);
    expect(leg.relay(consumerPacket(12, 320, 1), 41)).toBeNull();
    expect(leg.relay(consumerPacket(11, 160, 1), 42)).toBeNull();
    // The sender starts a new stream (new SSRC, random bases) after a second: no jump backwards.
    const restarted = RtpPacket.parse(leg.relay(consumerPacket(40_000, 9_000_000, 1, 0x9999), 1040)!);
    expect(restarted.sequenceNumber).toBe((third.sequenceNumber + 1) & 0xffff);
    // The gap is measured from the last packet of the stream (the duplicate at 41 ms).
    expect(restarted.timestamp).toBe(320 + 999 * 8);
  });

  it('replaces the audio with RFC 4733 events for a key press, in the same sequence space', () => {
    const leg = new RtpRelayLeg({ legId: 'l', codec: 'PCMA', payloadType: 8, clockRate: 8000, dtmfPayloadType: 101 });
    expect(() => leg.sendDtmf('x')).toThrow();
    const audio = RtpPacket.parse(leg.relay(consumerPacket(1, 16_000, 1), 0)!);
    expect(leg.tick(10)).toBeNull();
    leg.sendDtmf('5', 100);
    const sent: RtpPacket[] = [];
    for (let t = 20; t < 400; t += 20) {
      // The source keeps sending; its audio is held back while the event plays.
      const relayed = leg.relay(consumerPacket(1 + t / 20, 16_000 + (t / 20) * 160, 1), t);
      if (relayed) sent.push(RtpPacket.parse(relayed));
      const event = leg.tick(t);
      if (event) sent.push(RtpPacket.parse(event));
      else if (sent.some((p) => p.payloadType === 101)) break;
    }
    const events = sent.filter((p) => p.payloadType === 101);
    const resumed = sent.at(-1)!;
    // The packet that was on its way when the key was pressed, then only events until the end.
    expect(sent[0]!.payloadType).toBe(8);
    expect(sent.slice(1, -1).every((p) => p.payloadType === 101)).toBe(true);
    expect(events.length).toBe(5 + 2);
    expect(events[0]!.marker).toBe(true);
    expect(new Set(events.map((p) => p.timestamp)).size).toBe(1);
    expect(events[0]!.timestamp).toBeGreaterThan(audio.timestamp);
    expect(Rfc4733.parse(events.at(-1)!.payload)).toMatchObject({ event: 5, end: true, duration: 800 });
    // One sequence space, no gaps: the audio before, the events, the audio after.
    const seqs = [audio, ...sent].map((p) => p.sequenceNumber);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1]! + 1) & 0xffff);
    expect(resumed).toMatchObject({ payloadType: 8, marker: true });
    expect(resumed.timestamp).toBeGreaterThan(events[0]!.timestamp + 800);
  });
});
