import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { OpusCodec } from '../../../../sip-connector/media/OpusCodec.js';
import { OpusCodecError } from '../../../../sip-connector/media/OpusCodecError.js';
import { opusAddon } from '../../../../sip-connector/media/opusAddon.js';
import { dominantFrequency, goertzel } from './support/goertzel.js';
import { concat, prng, rms, tone } from './support/tone.js';

const FRAME = 960;

function encodeTone(codec: OpusCodec, frequency: number, frames: number): Uint8Array[] {
  const packets: Uint8Array[] = [];
  const buf = new Uint8Array(4000);
  for (let f = 0; f < frames; f++) {
    const n = codec.encode(tone(frequency, 48000, FRAME, 8000, f * FRAME), FRAME, buf);
    packets.push(buf.slice(0, n));
  }
  return packets;
}

describe('OpusCodec (libopus addon)', () => {
  it('round-trips a tone keeping its frequency and level', () => {
    const enc = new OpusCodec({ bitrate: 32000 });
    const dec = new OpusCodec();
    const packets = encodeTone(enc, 1000, 25);
    expect(packets.every((p) => p.length > 10 && p.length < 400)).toBe(true);
    const frames = packets.map((p) => {
      const out = new Int16Array(FRAME);
      expect(dec.decode(p, out)).toBe(FRAME);
      return out;
    });
    const pcm = concat(frames.slice(5));
    expect(dominantFrequency(pcm, 48000, [440, 800, 1000, 1200, 2000])).toBe(1000);
    expect(goertzel(pcm, 48000, 1000)).toBeGreaterThan(6000);
    expect(dec.samplesIn(packets[0])).toBe(FRAME);
    enc.close();
    dec.close();
  });

  it('conceals a lost packet with non-silent audio that continues the tone', () => {
    const enc = new OpusCodec();
    const dec = new OpusCodec();
    const packets = encodeTone(enc, 700, 20);
    const out = new Int16Array(FRAME);
    for (const p of packets.slice(0, 15)) dec.decode(p, out);
    const plc = new Int16Array(FRAME);
    expect(dec.conceal(FRAME, plc)).toBe(FRAME);
    expect(rms(plc)).toBeGreaterThan(1000);
    expect(dominantFrequency(plc, 48000, [300, 700, 1500, 3000])).toBe(700);
  });

  it('recovers a lost frame from the next packet’s in-band FEC', () => {
    const enc = new OpusCodec({ packetLossPercent: 20, bitrate: 32000 });
    const dec = new OpusCodec();
    const packets = encodeTone(enc, 500, 20);
    const out = new Int16Array(FRAME);
    for (const p of packets.slice(0, 10)) dec.decode(p, out);
    const fec = new Int16Array(FRAME);
    expect(dec.decodeFec(packets[11], FRAME, fec)).toBe(FRAME);
    expect(rms(fec)).toBeGreaterThan(1000);
  });

  it('throws OpusCodecError, never crashes, on random packets (fuzz)', () => {
    const dec = new OpusCodec();
    const random = prng(6716);
    const out = new Int16Array(FRAME);
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < 5000; i++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 300));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      try {
        dec.decode(bytes, out);
        decoded++;
      } catch (error) {
        if (!(error instanceof OpusCodecError)) throw new Error(`iteration ${i}: ${String(error)}`);
        rejected++;
      }
    }
    expect(decoded).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    // The decoder still works after all that garbage.
    const good = encodeTone(new OpusCodec(), 1000, 1)[0];
    expect(dec.decode(good, out)).toBe(FRAME);
  });

  it('validates every native argument with a JS exception', () => {
    const addon = opusAddon();
    const bad: [string, () => unknown][] = [
      ['rate', () => new addon.OpusDecoder(44100, 1)],
      ['channels', () => new addon.OpusDecoder(48000, 3)],
      ['application', () => new addon.OpusEncoder(48000, 1, 1)],
      ['non-number', () => new addon.OpusEncoder('48000' as unknown as number, 1, 2048)],
      ['fractional', () => new addon.OpusDecoder(48000.5, 1)],
      ['pcm type', () => new addon.OpusEncoder(48000, 1, 2048).encodeInto(new Float32Array(960) as never, new Uint8Array(10))],
      ['frame length', () => new addon.OpusEncoder(48000, 1, 2048).encodeInto(new Int16Array(961), new Uint8Array(10))],
      ['empty out', () => new addon.OpusEncoder(48000, 1, 2048).encodeInto(new Int16Array(960), new Uint8Array(0))],
      ['bitrate', () => new addon.OpusEncoder(48000, 1, 2048).setBitrate(10)],
      ['packet type', () => new addon.OpusDecoder(48000, 1).decodeInto('x' as never, new Int16Array(960))],
      ['empty packet', () => new addon.OpusDecoder(48000, 1).decodeInto(new Uint8Array(0), new Int16Array(960))],
      ['small out', () => new addon.OpusDecoder(48000, 1).decodeInto(Uint8Array.of(0x08, 0), new Int16Array(10))],
      ['plc frame', () => new addon.OpusDecoder(48000, 1).decodePlcInto(7, new Int16Array(960))],
      ['plc huge', () => new addon.OpusDecoder(48000, 1).decodePlcInto(1e9, new Int16Array(960))],
      ['missing args', () => (new addon.OpusDecoder(48000, 1).decodeInto as () => number)()],
      ['unbound this', () => addon.OpusDecoder.prototype.decodeInto.call({}, Uint8Array.of(1), new Int16Array(960))],
    ];
    for (const [name, call] of bad) {
      expect(call, name).toThrow(Error);
    }
    const enc = new addon.OpusEncoder(48000, 1, 2048);
    enc.destroy();
    expect(() => enc.encodeInto(new Int16Array(960), new Uint8Array(100))).toThrow(/destroyed/);
    enc.destroy();
  });

  it('loads and runs inside worker threads (context-aware addon)', async () => {
    const path = new URL('../../../../sip-connector/media/native/build/opus.node', import.meta.url).pathname;
    const code = `
      const { parentPort } = require('node:worker_threads');
      const m = require(${JSON.stringify(path)});
      const e = new m.OpusEncoder(48000, 1, 2048);
      const out = Buffer.alloc(1500);
      const n = e.encodeInto(new Int16Array(960), out);
      const d = new m.OpusDecoder(48000, 1);
      parentPort.postMessage(d.decodeInto(out.subarray(0, n), new Int16Array(960)));`;
    const results = await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', (m) => {
        resolve(m);
        void w.terminate();
      });
      w.once('error', reject);
    })));
    expect(results).toEqual([960, 960, 960]);
  });
});
