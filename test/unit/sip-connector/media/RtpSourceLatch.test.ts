import { describe, expect, it } from 'vitest';
import { isNegotiatedRtp, RtpSourceLatch } from '../../../../sip-connector/media/RtpSourceLatch.js';

const rtp = (payloadType: number, length = 172, version = 2) => {
  const d = new Uint8Array(length);
  d[0] = version << 6;
  d[1] = payloadType;
  return d;
};

describe('isNegotiatedRtp', () => {
  it('takes version-2 RTP of a negotiated type and no more than an MTU', () => {
    expect(isNegotiatedRtp(rtp(0), [0, 101])).toBe(true);
    expect(isNegotiatedRtp(rtp(101 | 0x80), [0, 101])).toBe(true);
    expect(isNegotiatedRtp(rtp(8), [0, 101])).toBe(false);
    expect(isNegotiatedRtp(rtp(0, 11), [0])).toBe(false);
    expect(isNegotiatedRtp(rtp(0, 1501), [0])).toBe(false);
    expect(isNegotiatedRtp(rtp(0, 172, 1), [0])).toBe(false);
    // RTCP (PT 200-204) read as RTP is type 72-76.
    expect(isNegotiatedRtp(rtp(200), [0, 72])).toBe(true);
    expect(isNegotiatedRtp(rtp(200), [0, 101])).toBe(false);
  });
});

describe('RtpSourceLatch', () => {
  it('latches the first source and refuses others while it is live', () => {
    const latch = new RtpSourceLatch({ quietMs: 1000, handoverPackets: 3 });
    expect(latch.admit('192.0.2.1', 4000, 0)).toBe(true);
    for (let t = 20; t < 2000; t += 20) {
      expect(latch.admit('192.0.2.1', 4000, t)).toBe(true);
      expect(latch.admit('198.51.100.9', 5000, t + 1)).toBe(false);
    }
    expect(latch.remote).toEqual({ ip: '192.0.2.1', port: 4000 });
  });

  it('hands over to one sustained new source after the latched one has gone quiet', () => {
    const latch = new RtpSourceLatch({ quietMs: 1000, handoverPackets: 3 });
    latch.admit('192.0.2.1', 4000, 0);
    expect(latch.admit('192.0.2.1', 4001, 999)).toBe(false);
    // Quiet now, but two sources alternating never add up to a sustained stream.
    for (let t = 1000; t < 1200; t += 20) {
      expect(latch.admit('198.51.100.9', 5000, t)).toBe(false);
      expect(latch.admit('198.51.100.10', 5000, t + 1)).toBe(false);
    }
    expect(latch.admit('192.0.2.1', 4001, 1300)).toBe(false);
    expect(latch.admit('192.0.2.1', 4001, 1320)).toBe(false);
    expect(latch.admit('192.0.2.1', 4001, 1340)).toBe(true);
    expect(latch.remote).toEqual({ ip: '192.0.2.1', port: 4001 });
    expect(latch.admit('192.0.2.1', 4000, 1360)).toBe(false);
  });
});
