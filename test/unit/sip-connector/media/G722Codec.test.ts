import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { G722Codec } from '../../../../sip-connector/media/G722Codec.js';
import { Resampler } from '../../../../sip-connector/media/Resampler.js';
import { dominantFrequency, goertzel } from './support/goertzel.js';
import { prng, tone } from './support/tone.js';

const RATE = 16000;
const FRAME = 320;
const CANDIDATES = [300, 1000, 2000, 3000, 4500, 6000, 7000];
const dir = mkdtempSync(join(tmpdir(), 'g722-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Signal-to-noise ratio of a tone: a least-squares sinusoid at `frequency` (any gain and phase, so the
 * codec's filter delay does not count) is the signal, the rest is noise. The first 25 ms, where the
 * ADPCM adapts, are left out.
 */
function toneSnr(pcm: Int16Array, frequency: number, rate = RATE): { snrDb: number; amplitude: number } {
  const x = pcm.subarray(Math.round(rate * 0.025));
  const w = (2 * Math.PI * frequency) / rate;
  let ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
  for (let i = 0; i < x.length; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    ss += s * s; cc += c * c; sc += s * c; ys += x[i]! * s; yc += x[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det;
  const b = (yc * ss - ys * sc) / det;
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < x.length; i++) {
    const fit = a * Math.sin(w * i) + b * Math.cos(w * i);
    signal += fit * fit;
    noise += (x[i]! - fit) ** 2;
  }
  return { snrDb: 10 * Math.log10(signal / Math.max(noise, 1e-9)), amplitude: Math.hypot(a, b) };
}

/** Encodes pcm frame by frame, as the pipeline does. */
function encode(codec: G722Codec, pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length / 2);
  for (let at = 0; at < pcm.length; at += FRAME) {
    expect(codec.encode(pcm.subarray(at, at + FRAME), FRAME, out.subarray(at / 2, at / 2 + FRAME / 2))).toBe(FRAME / 2);
  }
  return out;
}

/** Decodes 160-byte payloads, as the pipeline does. */
function decode(codec: G722Codec, bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length * 2);
  for (let at = 0; at < bytes.length; at += FRAME / 2) {
    const payload = bytes.subarray(at, at + FRAME / 2);
    expect(codec.samplesIn(payload)).toBe(payload.length * 2);
    expect(codec.decode(payload, out.subarray(at * 2, at * 2 + FRAME))).toBe(payload.length * 2);
  }
  return out;
}

/** Decodes a G.722 stream with ffmpeg's own G.722 decoder. */
function ffmpegDecode(bytes: Uint8Array): Int16Array {
  writeFileSync(join(dir, 'in.g722'), bytes);
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'g722', '-i', join(dir, 'in.g722'), '-ar', String(RATE), '-f', 's16le',
    join(dir, 'out.raw')]);
  const raw = readFileSync(join(dir, 'out.raw'));
  return new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

/** Encodes 16 kHz PCM to G.722 with ffmpeg's own encoder. */
function ffmpegEncode(pcm: Int16Array): Uint8Array {
  writeFileSync(join(dir, 'in.raw'), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 's16le', '-ar', String(RATE), '-ac', '1', '-i', join(dir, 'in.raw'),
    '-c:a', 'g722', '-f', 'g722', join(dir, 'out.g722')]);
  return new Uint8Array(readFileSync(join(dir, 'out.g722')));
}

const oneSecond = (frequency: number, amplitude = 10000) => tone(frequency, RATE, RATE, amplitude);

describe('G722Codec', () => {
  it('describes itself as 16 kHz mono G722 with two samples per octet', () => {
    const codec = new G722Codec();
    expect({ name: codec.name, sampleRate: codec.sampleRate, channels: codec.channels }).toEqual({ name: 'G722', sampleRate: 16000, channels: 1 });
    expect(G722Codec.rtpClockRate).toBe(8000);
    expect(codec.samplesIn(new Uint8Array(160))).toBe(320);
  });

  it('encodes a 1 kHz tone that ffmpeg decodes to the same tone', () => {
    const decoded = ffmpegDecode(encode(new G722Codec(), oneSecond(1000)));
    expect(decoded.length).toBe(RATE);
    const { snrDb, amplitude } = toneSnr(decoded, 1000);
    console.log(`ours → ffmpeg, 1 kHz: SNR ${snrDb.toFixed(1)} dB, amplitude ${amplitude.toFixed(0)}`);
    expect(dominantFrequency(decoded, RATE, CANDIDATES)).toBe(1000);
    expect(snrDb).toBeGreaterThan(20);
    expect(amplitude).toBeGreaterThan(9000);
    expect(amplitude).toBeLessThan(11000);
  });

  it('decodes a 1 kHz tone encoded by ffmpeg', () => {
    const bytes = ffmpegEncode(oneSecond(1000));
    expect(bytes.length).toBe(RATE / 2);
    const decoded = decode(new G722Codec(), bytes);
    const { snrDb, amplitude } = toneSnr(decoded, 1000);
    console.log(`ffmpeg → ours, 1 kHz: SNR ${snrDb.toFixed(1)} dB, amplitude ${amplitude.toFixed(0)}`);
    expect(dominantFrequency(decoded, RATE, CANDIDATES)).toBe(1000);
    expect(snrDb).toBeGreaterThan(20);
    expect(amplitude).toBeGreaterThan(9000);
    expect(amplitude).toBeLessThan(11000);
  });

  it('round-trips tones across both sub-bands through its own encoder and decoder', () => {
    for (const frequency of [300, 1000, 3000, 6000]) {
      const decoded = decode(new G722Codec(), encode(new G722Codec(), oneSecond(frequency)));
      const { snrDb } = toneSnr(decoded, frequency);
      console.log(`ours → ours, ${frequency} Hz: SNR ${snrDb.toFixed(1)} dB`);
      expect(dominantFrequency(decoded, RATE, CANDIDATES), `${frequency} Hz`).toBe(frequency);
      expect(snrDb, `${frequency} Hz`).toBeGreaterThan(20);
    }
  });

  it('carries a 6 kHz tone that an 8 kHz G.711 path cannot', () => {
    const input = oneSecond(6000);
    const wide = decode(new G722Codec(), encode(new G722Codec(), input));
    expect(goertzel(wide.subarray(800), RATE, 6000)).toBeGreaterThan(9000);
    // The same tone through 16 → 8 kHz, PCMU and back: above the 4 kHz Nyquist limit nothing is left.
    const down = new Resampler(16000, 8000, FRAME);
    const up = new Resampler(8000, 16000, FRAME / 2);
    const pcmu = new G711Codec('PCMU');
    const narrow = new Int16Array(input.length);
    const low = new Int16Array(FRAME / 2);
    const code = new Uint8Array(FRAME / 2);
    for (let at = 0; at < input.length; at += FRAME) {
      down.process(input.subarray(at, at + FRAME), low);
      pcmu.encode(low, low.length, code);
      pcmu.decode(code, low);
      up.process(low, narrow.subarray(at, at + FRAME));
    }
    expect(goertzel(narrow.subarray(800), RATE, 6000)).toBeLessThan(500);
  });

  it('is bit-exact with ffmpeg on loud, clipped and noisy input and on arbitrary octets', () => {
    const random = prng(722);
    const pcm = new Int16Array(2 * RATE);
    for (let i = 0; i < pcm.length; i++) {
      const t = i / RATE;
      const sweep = 1.2 * 32767 * Math.sin(2 * Math.PI * (100 + 3000 * t) * t);
      const value = i < RATE ? sweep : (random() * 2 - 1) * 32767;
      pcm[i] = Math.max(-32768, Math.min(32767, Math.round(value)));
    }
    expect(Buffer.from(encode(new G722Codec(), pcm)).equals(Buffer.from(ffmpegEncode(pcm)))).toBe(true);
    const octets = new Uint8Array(RATE / 2).map(() => Math.floor(random() * 256));
    const ours = decode(new G722Codec(), octets);
    const theirs = ffmpegDecode(octets);
    expect(Buffer.from(ours.buffer).equals(Buffer.from(theirs.buffer, theirs.byteOffset, theirs.byteLength))).toBe(true);
  });

  it('keeps separate state per instance and writes only what fits the output', () => {
    const bytes = encode(new G722Codec(), oneSecond(1000));
    const a = new G722Codec();
    const b = new G722Codec();
    const outA = decode(a, bytes.subarray(0, 1600));
    decode(b, bytes.subarray(4000, 5600));
    expect(decode(new G722Codec(), bytes.subarray(0, 1600))).toEqual(outA);
    expect(a.decode(bytes.subarray(0, 160), new Int16Array(100))).toBe(100);
    expect(a.encode(oneSecond(1000), 320, new Uint8Array(50))).toBe(50);
  });

  it('conceals a lost frame with a fade of the last one, or silence without one', () => {
    const codec = new G722Codec();
    const previous = tone(1000, RATE, FRAME, 8000);
    const out = new Int16Array(FRAME);
    expect(codec.conceal(FRAME, out, previous)).toBe(FRAME);
    expect(out[40]).toBe(Math.round(previous[40]! * (1 - 40 / FRAME)));
    expect(codec.conceal(FRAME, out, null)).toBe(FRAME);
    expect(out.every((s) => s === 0)).toBe(true);
  });
});
