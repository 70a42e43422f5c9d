import { concealByFade, type AudioCodec } from './AudioCodec.js';

// ITU-T G.722 (64 kbit/s, mode 1). The 16 kHz signal is split by a 24-tap QMF pair into a 0-4 kHz and a
// 4-8 kHz band at 8 kHz each; the lower band is coded with 6-bit ADPCM, the higher with 2-bit ADPCM, and
// each pair of input samples becomes one octet (higher-band bits on top, RFC 3551 §4.5.2).

/** QMF coefficients h0..h23 (the filter is symmetric). */
const QMF = [3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
  3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3];

/** Lower band: decision levels of the 6-bit quantizer, for magnitude intervals 1..29 (scaled by 2^12). */
const Q6 = [0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858,
  940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919];
/** Lower band: code of magnitude interval 1..30 for a negative, and for a positive difference. */
const ILN = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13,
  12, 11, 10, 9, 8, 7, 6, 5, 4];
const ILP = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41,
  40, 39, 38, 37, 36, 35, 34, 33, 32];
/** Lower band: 6-bit inverse quantizer output per code (scaled by 2^15 against the scale factor). */
const QM6 = [
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
  24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
  4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/** Lower band: 4-bit inverse quantizer, which drives prediction and adaptation in every mode. */
const QM4 = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0];
/** Lower band: log scale factor increments, indexed through RL42 by the 4-bit code. */
const WL = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/** Higher band: 2-bit inverse quantizer, log scale factor increments and their index per code. */
const QM2 = [-7408, -1616, 7408, 1616];
const WH = [0, -214, 798];
const RH2 = [2, 1, 2, 1];
/** Higher band: the one decision level (scaled by 2^12). */
const Q2 = 564;
/** Scale factor antilog table: 2048 · 2^(i/32). */
const ILB = [2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008];

function sat16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}

/** Sign as the algorithm compares it: 0 for zero and positive values, -1 for negative ones. */
function sign(value: number): number {
  return value < 0 ? -1 : 0;
}

/**
 * State of one sub-band ADPCM coder (encoder and decoder keep identical copies): scale factor and the
 * pole-zero predictor (2 poles on the reconstructed signal, 6 zeros on the quantized differences).
 */
class SubBand {
  /** Log scale factor and its linear value. */
  nb = 0;
  det: number;
  /** Predicted signal and its zero-section part. */
  s = 0;
  sz = 0;
  /** Pole coefficients a1, a2 and their last two reconstructed signals r1, r2 / partial signals p1, p2. */
  a1 = 0;
  a2 = 0;
  r1 = 0;
  r2 = 0;
  p1 = 0;
  p2 = 0;
  /** Zero coefficients b1..b6 and quantized differences d1..d6 (index 0 unused). */
  readonly b = new Int32Array(7);
  readonly d = new Int32Array(7);

  constructor(
    private readonly maxNb: number,
    private readonly scaleShift: number,
  ) {
    this.det = this.scale();
  }

  /** Linear scale factor from the log one (SCALEL/SCALEH). */
  private scale(): number {
    const mantissa = ILB[(this.nb >> 6) & 31]!;
    const shift = this.scaleShift - (this.nb >> 11);
    return (shift < 0 ? mantissa << -shift : mantissa >> shift) << 2;
  }

  /** Log scale factor adaptation (LOGSCL/LOGSCH) with the increment the last code calls for. */
  adaptScale(increment: number): void {
    const nb = ((this.nb * 32512) >> 15) + increment;
    this.nb = nb < 0 ? 0 : nb > this.maxNb ? this.maxNb : nb;
    this.det = this.scale();
  }

  /** Updates the predictor with the quantized difference `dq` and computes the next prediction (block 4). */
  predict(dq: number): void {
    const r0 = sat16(this.s + dq);
    const p0 = sat16(this.sz + dq);
    const sg0 = sign(p0);
    const sg1 = sign(this.p1);
    const sg2 = sign(this.p2);
    // Second pole: leak plus sign correlations of the partial signal, kept within ±0.75.
    const fourA1 = sat16(this.a1 * 4);
    const cross = sg0 === sg1 ? -fourA1 : fourA1;
    let a2 = ((cross > 32767 ? 32767 : cross) >> 7) + (sg0 === sg2 ? 128 : -128) + ((this.a2 * 32512) >> 15);
    a2 = a2 > 12288 ? 12288 : a2 < -12288 ? -12288 : a2;
    // First pole, limited so the two-pole section stays stable: |a1| ≤ 1 - 2^-4 - a2.
    let a1 = sat16((sg0 === sg1 ? 192 : -192) + ((this.a1 * 32640) >> 15));
    const limit = sat16(15360 - a2);
    a1 = a1 > limit ? limit : a1 < -limit ? -limit : a1;
    // Zeros: leak plus sign correlation of the new difference with each delayed one.
    const step = dq === 0 ? 0 : 128;
    const sgd = sign(dq);
    const { b, d } = this;
    for (let i = 6; i >= 1; i--) {
      b[i] = sat16((sign(d[i]!) === sgd ? step : -step) + ((b[i]! * 32640) >> 15));
    }
    for (let i = 6; i > 1; i--) d[i] = d[i - 1]!;
    d[1] = dq;
    this.r2 = this.r1;
    this.r1 = r0;
    this.p2 = this.p1;
    this.p1 = p0;
    this.a1 = a1;
    this.a2 = a2;
    const sp = sat16(((a1 * sat16(r0 + r0)) >> 15) + ((a2 * sat16(this.r2 + this.r2)) >> 15));
    let sz = 0;
    for (let i = 1; i <= 6; i++) sz += (b[i]! * sat16(d[i]! + d[i]!)) >> 15;
    this.sz = sat16(sz);
    this.s = sat16(sp + this.sz);
  }
}

/**
 * G.722 at 64 kbit/s (ITU-T G.722 mode 1): 16 kHz mono PCM, one octet per two samples, so a 20 ms frame of
 * 320 samples is 160 bytes. Its RTP clock is 8000 Hz although it samples at 16 kHz (RFC 3551 §4.5.2).
 * Encoder and decoder state live in the instance; nothing is allocated per frame.
 */
export class G722Codec implements AudioCodec {
  readonly name = 'G722';
  readonly sampleRate = 16000;
  readonly channels = 1;
  /** RTP timestamp units per second, half the sampling rate for historical reasons. */
  static readonly rtpClockRate = 8000;
  private readonly encLow = new SubBand(18432, 8);
  private readonly encHigh = new SubBand(22528, 10);
  private readonly decLow = new SubBand(18432, 8);
  private readonly decHigh = new SubBand(22528, 10);
  /** Analysis filter history, newest input sample first. */
  private readonly analysis = new Int32Array(24);
  /** Synthesis filter histories of rL − rH and rL + rH, newest first. */
  private readonly synthDiff = new Int32Array(12);
  private readonly synthSum = new Int32Array(12);

  /** Decodes one octet per two samples into out; returns samples written (clamped to out's length). */
  decode(payload: Uint8Array, out: Int16Array): number {
    const octets = Math.min(payload.length, out.length >> 1);
    const low = this.decLow;
    const high = this.decHigh;
    const diff = this.synthDiff;
    const sum = this.synthSum;
    for (let n = 0; n < octets; n++) {
      const code = payload[n]!;
      const il = code & 0x3f;
      const ih = code >> 6;
      // Lower band: the output uses all 6 bits; prediction and adaptation only the 4 most significant.
      const il4 = il >> 2;
      const dl = (low.det * QM6[il]!) >> 15;
      let rl = sat16(low.s + dl);
      rl = rl > 16383 ? 16383 : rl < -16384 ? -16384 : rl;
      const dlt = (low.det * QM4[il4]!) >> 15;
      low.adaptScale(WL[RL42[il4]!]!);
      low.predict(dlt);
      const dh = (high.det * QM2[ih]!) >> 15;
      let rh = sat16(high.s + dh);
      rh = rh > 16383 ? 16383 : rh < -16384 ? -16384 : rh;
      high.adaptScale(WH[RH2[ih]!]!);
      high.predict(dh);
      diff.copyWithin(1, 0, 11);
      sum.copyWithin(1, 0, 11);
      diff[0] = rl - rh;
      sum[0] = rl + rh;
      let even = 0;
      let odd = 0;
      for (let i = 0; i < 12; i++) {
        even += QMF[2 * i]! * diff[i]!;
        odd += QMF[2 * i + 1]! * sum[i]!;
      }
      out[2 * n] = sat16(even >> 11);
      out[2 * n + 1] = sat16(odd >> 11);
    }
    return octets * 2;
  }

  /** A lost frame fades the last good frame; the ADPCM state re-converges on the next packets. */
  conceal(samples: number, out: Int16Array, previous: Int16Array | null): number {
    return concealByFade(samples, out, previous);
  }

  /** Encodes `samples` (even) samples of pcm into out, one octet per pair; returns bytes written. */
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number {
    const octets = Math.min(samples >> 1, pcm.length >> 1, out.length);
    const x = this.analysis;
    const low = this.encLow;
    const high = this.encHigh;
    for (let n = 0; n < octets; n++) {
      x.copyWithin(2, 0, 22);
      x[1] = pcm[2 * n]!;
      x[0] = pcm[2 * n + 1]!;
      let even = 0;
      let odd = 0;
      for (let i = 0; i < 12; i++) {
        even += QMF[2 * i]! * x[2 * i]!;
        odd += QMF[2 * i + 1]! * x[2 * i + 1]!;
      }
      const xl = (even + odd) >> 14;
      const xh = (even - odd) >> 14;

      const el = sat16(xl - low.s);
      const magnitude = el >= 0 ? el : -(el + 1);
      let interval = 1;
      while (interval < 30 && magnitude >= (Q6[interval]! * low.det) >> 12) interval++;
      const il = el < 0 ? ILN[interval]! : ILP[interval]!;
      const il4 = il >> 2;
      const dlt = (low.det * QM4[il4]!) >> 15;
      low.adaptScale(WL[RL42[il4]!]!);
      low.predict(dlt);

      const eh = sat16(xh - high.s);
      const big = (eh >= 0 ? eh : -(eh + 1)) >= (Q2 * high.det) >> 12;
      const ih = eh < 0 ? (big ? 0 : 1) : (big ? 2 : 3);
      const dh = (high.det * QM2[ih]!) >> 15;
      high.adaptScale(WH[RH2[ih]!]!);
      high.predict(dh);

      out[n] = (ih << 6) | il;
    }
    return octets;
  }

  /** Samples carried by a payload: two per octet. */
  samplesIn(payload: Uint8Array): number {
    return payload.length * 2;
  }

  /** Nothing native to release; present so every codec can be closed the same way. */
  close(): void {}
}
