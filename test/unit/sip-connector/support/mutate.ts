/**
 * Deterministic input mutation for the fuzz tests (SIP messages, SDP bodies): byte, line and token
 * mutations driven by the media tests' seeded PRNG, so a failure replays from its seed.
 */
export { prng as rng } from '../media/support/tone.js';

export const INTERESTING = ['\r\n', ' ', '\t', ':', ';', ',', '"', '<', '>', '@', '[', ']', '%', '=', '\\', '\0', '\u00ff', '日', 'SIP/2.0', 'sip:', ';branch=', 'Content-Length: 99999'];

/** One to three random mutations of `input`. */
export function mutate(input: Buffer, next: () => number): Buffer {
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

