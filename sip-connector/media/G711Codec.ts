import { concealByFade, type AudioCodec } from './AudioCodec.js';
import { MediaConfigError } from './MediaConfigError.js';

/** G.711 companding law: PCMU is µ-law (North America/Japan), PCMA is A-law (everywhere else). */
export type G711Law = 'PCMU' | 'PCMA';

// Tables built once per process: decode is a 256-entry lookup, encode a 64 Ki-entry lookup indexed by the
// 16-bit sample, which is far cheaper per sample than the segment search of the reference algorithm.
const ULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const ULAW_ENCODE = new Uint8Array(65536);
const ALAW_ENCODE = new Uint8Array(65536);

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

function ulawEncodeSample(sample: number): number {
  let sign = 0;
  let s = sample;
  if (s < 0) {
    s = -s;
    sign = 0x80;
  }
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function ulawDecodeSample(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

function alawEncodeSample(sample: number): number {
  // A-law works on 13-bit magnitudes; the sign bit is set for positive values before the 0x55 inversion.
  let s = sample >> 3;
  let sign = 0x80;
  if (s < 0) {
    s = -s - 1;
    sign = 0;
  }
  if (s > 0x0fff) s = 0x0fff;
  let code: number;
  if (s < 32) {
    code = s >> 1;
  } else {
    let exponent = 1;
    for (let v = s >> 6; v > 0; v >>= 1) exponent++;
    code = (exponent << 4) | ((s >> exponent) & 0x0f);
  }
  return (sign | code) ^ 0x55;
}

function alawDecodeSample(code: number): number {
  const a = code ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = Math.min(magnitude, 32767);
  return a & 0x80 ? magnitude : -magnitude;
}

for (let code = 0; code < 256; code++) {
  ULAW_DECODE[code] = ulawDecodeSample(code);
  ALAW_DECODE[code] = alawDecodeSample(code);
}
for (let i = 0; i < 65536; i++) {
  const sample = i - 32768;
  ULAW_ENCODE[i] = ulawEncodeSample(sample);
  ALAW_ENCODE[i] = alawEncodeSample(sample);
}

/** Stateless G.711 codec (ITU-T G.711) over 8 kHz mono, one byte per sample. */
export class G711Codec implements AudioCodec {
  readonly sampleRate = 8000;
  readonly channels = 1;
  private readonly decodeTable: Int16Array;
  private readonly encodeTable: Uint8Array;
  private readonly silence: number;

  constructor(readonly name: G711Law) {
    if (name !== 'PCMU' && name !== 'PCMA') throw new MediaConfigError(`not a G.711 codec: ${String(name)}`);
    this.decodeTable = name === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
    this.encodeTable = name === 'PCMU' ? ULAW_ENCODE : ALAW_ENCODE;
    this.silence = this.encodeTable[32768];
  }

  /** Decodes one byte per sample into `out`; returns samples written (clamped to out's length). */
  decode(payload: Uint8Array, out: Int16Array): number {
    const n = Math.min(payload.length, out.length);
    const table = this.decodeTable;
    for (let i = 0; i < n; i++) out[i] = table[payload[i]];
    return n;
  }

  /** G.711 has no concealment of its own: fade the last good frame. */
  conceal(samples: number, out: Int16Array, previous: Int16Array | null): number {
    return concealByFade(samples, out, previous);
  }

  /** Encodes `samples` samples of pcm into out; returns bytes written. */
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number {
    const n = Math.min(samples, pcm.length, out.length);
    const table = this.encodeTable;
    for (let i = 0; i < n; i++) out[i] = table[pcm[i] + 32768];
    return n;
  }

  /** Samples carried by a payload: one per byte. */
  samplesIn(payload: Uint8Array): number {
    return payload.length;
  }

  /** The code for digital silence, for filling frames without a lookup. */
  get silenceByte(): number {
    return this.silence;
  }

  /** Nothing native to release; present so every codec can be closed the same way. */
  close(): void {}
}
