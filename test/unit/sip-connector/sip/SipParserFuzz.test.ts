import { describe, expect, it } from 'vitest';
import { INVALID, VALID } from '../../../fixtures/sip/corpus.js';
import { SipParser } from '../../../../sip-connector/sip/SipParser.js';
import { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import { SipStreamFramer } from '../../../../sip-connector/sip/SipStreamFramer.js';
import { TransportLayer } from '../../../../sip-connector/sip/TransportLayer.js';
import { silentLogger } from '../../../../sip-connector/sip/Logger.js';
import { mutate, rng } from '../support/mutate.js';

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
    const overStream = parser.parse(input, true);
    if (dgram.ok) {
      parsedOk++;
      exercise(dgram.message);
    }
    if (overStream.ok) exercise(overStream.message);
    const framer = new SipStreamFramer(4096);
    framer.push(input.subarray(0, input.length >> 1));
    framer.push(input.subarray(input.length >> 1));
    // TCP framing: the input twice back to back with keep-alives between, cut at random places.
    const stream = Buffer.concat([input, Buffer.from('\r\n\r\n'), input, Buffer.from('\r\n')]);
    const chunked = new SipStreamFramer(4096);
    for (let at = 0; at < stream.length;) {
      const size = 1 + Math.floor(next() * 300);
      for (const frame of chunked.push(stream.subarray(at, at + size))) {
        if (frame.type === 'error' && frame.error.name !== 'SipParseError') throw frame.error;
      }
      at += size;
    }
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
