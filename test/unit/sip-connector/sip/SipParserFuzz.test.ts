import { describe, expect, it } from 'vitest';
import { INVALID, VALID } from '../../../fixtures/sip/corpus.js';
import { SipParser } from '../../../../sip-connector/sip/SipParser.js';
import { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import { SipStreamFramer } from '../../../../sip-connector/sip/SipStreamFramer.js';
import { TransportLayer } from '../../../../sip-connector/sip/TransportLayer.js';
import { silentLogger } from '../../../../sip-connector/sip/Logger.js';

/** Small deterministic PRNG so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = ['\r\n', ' ', '\t', ':', ';', ',', '"', '<', '>', '@', '[', ']', '%', '=', '\\', '\0', '\u00ff', '日', 'SIP/2.0', 'sip:', ';branch=', 'Content-Length: 99999'];

function mutate(input: Buffer, next: () => number): Buffer {
  let b = Buffer.from(input);
  const ops = 1 + Math.floor(next() * next() * 3);
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(next() * (b.length + 1));
    switch (Math.floor(next() * 6)) {
      case 0: if (b.length) b[Math.min(pos, b.length - 1)] = Math.floor(next() * 256); break;
      case 1: b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1 + Math.floor(next() * 20))]); break;
      case 2: b = Buffer.concat([b.subarray(0, pos), Buffer.from(INTERESTING[Math.floor(next() * INTERESTING.length)] as string), b.subarray(pos)]); break;
      case 3: b = b.subarray(0, pos); break;
      case 4: {
        const len = Math.floor(next() * 40);
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + len), b.subarray(pos)]);
        break;
      }
      default: {
        const lines = b.toString('latin1').split('\r\n');
        const a = Math.floor(next() * lines.length);
        const c = Math.floor(next() * lines.length);
        [lines[a], lines[c]] = [lines[c] as string, lines[a] as string];
        b = Buffer.from(lines.join('\r\n'), 'latin1');
      }
    }
  }
  return b;
}

/** Touches every lazily parsed accessor the upper layers use. */
function exercise(msg: unknown): void {
  if (!(msg instanceof SipRequest)) return;
  for (const f of [() => msg.from.tag, () => msg.to.uri.toString(), () => msg.vias, () => msg.contacts, () => msg.cseq, () => msg.toBuffer()]) {
    try { f(); } catch (e) { if (!(e instanceof Error) || e.name !== 'SipParseError') throw e; }
  }
}

export function fuzzIterations(count: number, seed: number): number {
  const parser = new SipParser();
  const seeds = [...VALID, ...VALID, ...VALID, ...INVALID].map((e) => Buffer.from(e.text, 'utf8'));
  const next = rng(seed);
  let parsedOk = 0;
  const transport = new TransportLayer(silentLogger, '127.0.0.1');
  for (let i = 0; i < count; i++) {
    const input = mutate(seeds[Math.floor(next() * seeds.length)] as Buffer, next);
    const dgram = parser.parse(input, false);
    const stream = parser.parse(input, true);
    if (dgram.ok) {
      parsedOk++;
      exercise(dgram.message);
    }
    if (stream.ok) exercise(stream.message);
    const framer = new SipStreamFramer(4096);
    framer.push(input.subarray(0, input.length >> 1));
    framer.push(input.subarray(input.length >> 1));
    // the full receive path, including building 400 responses for broken requests (no transport: send fails quietly)
    transport.onData(input, { transport: 'udp', address: '127.0.0.1', port: 5999 });
  }
  return parsedOk;
}

describe('parser fuzzing', () => {
  const count = Number(process.env.SIP_FUZZ_ITERATIONS ?? 5000);
  it(`survives ${count} random mutations without throwing`, () => {
    const seed = Number(process.env.SIP_FUZZ_SEED ?? 4475);
    let ok = 0;
    expect(() => { ok = fuzzIterations(count, seed); }).not.toThrow();
    // the mutations must not all be rejected, or the fuzzer is not reaching the deeper code
    expect(ok).toBeGreaterThan(count / 20);
  });
});
