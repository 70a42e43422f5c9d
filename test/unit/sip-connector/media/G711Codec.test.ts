import { describe, expect, it } from 'vitest';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { MediaConfigError } from '../../../../sip-connector/media/MediaConfigError.js';

// The continuous G.711 companding laws (ITU-T G.711 / Rec. G.711 Appendix): the 8-bit codes are the output of
// these curves quantised to 128 levels per sign, approximated by 8 linear segments.
const MU = 255;
const A = 87.6;
const muLaw = (x: number): number => Math.log(1 + MU * x) / Math.log(1 + MU);
const aLaw = (x: number): number => (x < 1 / A ? (A * x) / (1 + Math.log(A)) : (1 + Math.log(A * x)) / (1 + Math.log(A)));

/** Magnitude index 0..127 of a code (sign bit removed, inversions undone). */
function levelIndex(law: 'PCMU' | 'PCMA', code: number): number {
  return law === 'PCMU' ? (~code & 0x7f) : ((code ^ 0x55) & 0x7f);
}

function roundTrip(codec: G711Codec, sample: number): { code: number; decoded: number } {
  const codeOut = new Uint8Array(1);
  codec.encode(Int16Array.of(sample), 1, codeOut);
  const pcm = new Int16Array(1);
  codec.decode(codeOut, pcm);
  return { code: codeOut[0], decoded: pcm[0] };
}

describe('G711Codec', () => {
  it('matches the reference code points of both laws', () => {
    const u = new G711Codec('PCMU');
    const a = new G711Codec('PCMA');
    const out = new Int16Array(4);
    u.decode(Uint8Array.of(0xff, 0x7f, 0x80, 0x00), out);
    expect([...out]).toEqual([0, 0, 32124, -32124]);
    a.decode(Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a), out);
    expect([...out]).toEqual([8, -8, 32256, -32256]);
    expect(u.silenceByte).toBe(0xff);
    expect(a.silenceByte).toBe(0xd5);
  });

  for (const law of ['PCMU', 'PCMA'] as const) {
    const curve = law === 'PCMU' ? muLaw : aLaw;
    // µ-law full scale is 8159 in 14-bit units (32636 in 16-bit); A-law is 4096 in 13-bit units (32768).
    const fullScale = law === 'PCMU' ? 32636 : 32768;

    it(`${law}: the code of every sample sits on the companding curve within two levels`, () => {
      const codec = new G711Codec(law);
      let worst = 0;
      for (let s = -32768; s <= 32767; s += 7) {
        const { code } = roundTrip(codec, s);
        const x = Math.min(1, Math.abs(s) / fullScale);
        const expected = curve(x) * 128;
        worst = Math.max(worst, Math.abs(levelIndex(law, code) + 0.5 - expected));
        // Sign bit: set for positive values in both laws after the inversions are undone.
        if (Math.abs(s) > 64) {
          const positive = law === 'PCMU' ? (code & 0x80) !== 0 : ((code ^ 0x55) & 0x80) !== 0;
          expect(positive).toBe(s > 0);
        }
      }
      // Eight linear chords approximate the log curve; between chord ends they sag by under two levels.
      // A wrong segment would be 16 levels off, a wrong mantissa bit at least 1 more than this.
      expect(worst).toBeLessThan(2);
    });

    it(`${law}: round-trip error is bounded by the curve's quantisation step`, () => {
      const codec = new G711Codec(law);
      for (let s = -32000; s <= 32000; s += 3) {
        const { decoded } = roundTrip(codec, s);
        const x = Math.abs(s) / fullScale;
        // Input change for one output level: (1/128) / curve'(x), evaluated numerically.
        const h = 1e-4;
        const slope = (curve(Math.min(1, x + h)) - curve(Math.max(0, x - h))) / (Math.min(1, x + h) - Math.max(0, x - h));
        const step = (fullScale / 128) / slope;
        expect(Math.abs(decoded - s)).toBeLessThanOrEqual(Math.max(16, step));
      }
    });

    it(`${law}: decoding is monotonic in level and encode(decode(c)) = c`, () => {
      const codec = new G711Codec(law);
      const pcm = new Int16Array(256);
      const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
      codec.decode(codes, pcm);
      const reencoded = new Uint8Array(256);
      codec.encode(pcm, 256, reencoded);
      for (let c = 0; c < 256; c++) {
        // µ-law has two zero codes (0x7f and 0xff); both decode to 0, which encodes to 0xff.
        if (law === 'PCMU' && c === 0x7f) continue;
        expect(reencoded[c]).toBe(c);
      }
      const byLevel = new Map<number, number>();
      for (let c = 0; c < 256; c++) {
        if (pcm[c] >= 0) byLevel.set(levelIndex(law, c), Math.max(byLevel.get(levelIndex(law, c)) ?? 0, pcm[c]));
      }
      for (let level = 1; level < 128; level++) expect(byLevel.get(level)!).toBeGreaterThan(byLevel.get(level - 1)!);
    });
  }

  it('conceals a lost frame by fading the last one, then silence', () => {
    const codec = new G711Codec('PCMU');
    const previous = Int16Array.from({ length: 160 }, () => 1000);
    const out = new Int16Array(160);
    expect(codec.conceal(160, out, previous)).toBe(160);
    expect(out[0]).toBe(1000);
    expect(Math.abs(out[159])).toBeLessThan(20);
    codec.conceal(160, out, null);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('rejects unknown laws', () => {
    expect(() => new G711Codec('G729' as 'PCMU')).toThrow(MediaConfigError);
  });
});
