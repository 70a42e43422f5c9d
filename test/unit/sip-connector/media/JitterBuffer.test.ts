import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterPull } from '../../../../sip-connector/media/JitterBuffer.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';

function pkt(seq: number, ts: number, ssrc = 1, marker = false): RtpPacket {
  return RtpPacket.from({ payloadType: 0, sequenceNumber: seq & 0xffff, timestamp: ts >>> 0, ssrc, marker,
    payload: Uint8Array.of(seq & 0xff) });
}

/** Pulls `n` slots and renders them as seq numbers, 'gap' or '-'. */
function drain(jb: JitterBuffer, n: number): (number | string)[] {
  const out: (number | string)[] = [];
  for (let i = 0; i < n; i++) {
    const r: JitterPull = jb.pull();
    out.push(r.kind === 'packet' ? r.packet.sequenceNumber : r.kind === 'gap' ? 'gap' : '-');
  }
  return out;
}

describe('JitterBuffer', () => {
  it('holds packets until the target delay is buffered, then plays in sequence order', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 60 });
    jb.push(pkt(11, 1760), 0);
    jb.push(pkt(10, 1600), 1);
    expect(drain(jb, 1)).toEqual(['-']);
    expect(jb.playing).toBe(false);
    jb.push(pkt(12, 1920), 2);
    expect(drain(jb, 4)).toEqual([10, 11, 12, 'gap']);
  });

  it('reorders across the 16-bit sequence wrap', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 40 });
    for (const seq of [65534, 0, 65535, 1, 2]) jb.push(pkt(seq, (seq < 100 ? seq + 65536 : seq) * 160), 0);
    expect(drain(jb, 5)).toEqual([65534, 65535, 0, 1, 2]);
  });

  it('drops duplicates and packets that arrive after their slot played', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 40 });
    jb.push(pkt(100, 0), 0);
    jb.push(pkt(102, 320), 0);
    expect(jb.push(pkt(102, 320), 0)).toBe(false);
    expect(jb.stats.duplicates).toBe(1);
    expect(drain(jb, 2)).toEqual([100, 'gap']);
    expect(jb.push(pkt(101, 160), 0)).toBe(false);
    expect(jb.stats.late).toBe(1);
    expect(drain(jb, 1)).toEqual([102]);
  });

  it('reports each missing packet as a gap with its duration and the packet after it', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 20 });
    jb.push(pkt(1, 160), 0);
    jb.push(pkt(2, 320), 0);
    jb.push(pkt(4, 640), 0);
    expect(drain(jb, 2)).toEqual([1, 2]);
    const gap = jb.pull();
    expect(gap.kind).toBe('gap');
    if (gap.kind === 'gap') {
      expect(gap.samples).toBe(160);
      expect(gap.next?.sequenceNumber).toBe(4);
    }
    expect(drain(jb, 1)).toEqual([4]);
    expect(jb.stats.gaps).toBe(1);
  });

  it('conceals a few frames when the sender stops, then rebuffers for the next talkspurt', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 40, maxConcealedFrames: 3 });
    jb.push(pkt(1, 160), 0);
    jb.push(pkt(2, 320), 0);
    expect(drain(jb, 6)).toEqual([1, 2, 'gap', 'gap', 'gap', '-']);
    // A packet that was only late after the underrun still plays: the buffer did not run ahead.
    jb.push(pkt(3, 480), 0);
    expect(drain(jb, 1)).toEqual(['-']);
    jb.push(pkt(4, 640), 0);
    expect(drain(jb, 2)).toEqual([3, 4]);
  });

  it('resets on a new SSRC and on a timestamp jump', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 20 });
    jb.push(pkt(1, 160, 7), 0);
    expect(drain(jb, 1)).toEqual([1]);
    jb.push(pkt(5000, 99999, 8), 0);
    expect(jb.stats.resets).toBe(1);
    expect(drain(jb, 1)).toEqual([5000]);
    // Same SSRC, sequence continues, timestamp leaps by an hour: a restarted sender clock.
    jb.push(pkt(5001, 99999 + 8000 * 3600, 8), 0);
    expect(jb.stats.resets).toBe(2);
    expect(drain(jb, 1)).toEqual([5001]);
  });

  it('adapts its target delay to measured jitter within bounds', () => {
    const steady = new JitterBuffer({ clockRate: 8000, targetDelayMs: 60, adaptive: true, minDelayMs: 20 });
    const jittery = new JitterBuffer({ clockRate: 8000, targetDelayMs: 60, adaptive: true, maxDelayMs: 200 });
    for (let i = 0; i < 200; i++) {
      steady.push(pkt(i, i * 160), i * 20);
      jittery.push(pkt(i, i * 160), i * 20 + (i % 2 === 0 ? 0 : 35));
      steady.pull();
      jittery.pull();
    }
    expect(steady.targetDelayMs).toBe(20);
    expect(jittery.targetDelayMs).toBeGreaterThanOrEqual(100);
    expect(jittery.targetDelayMs).toBeLessThanOrEqual(200);
    expect(jittery.stats.jitterMs).toBeGreaterThan(20);
  });

  it('bounds memory and latency under a flood', () => {
    const jb = new JitterBuffer({ clockRate: 8000, targetDelayMs: 60, capacity: 32 });
    for (let i = 0; i < 500; i++) jb.push(pkt(i, i * 160), 0);
    expect(jb.size).toBeLessThanOrEqual(32);
    drain(jb, 1);
    expect(jb.size).toBeLessThanOrEqual(Math.ceil((60 * 2 + 40) / 20));
  });
});
