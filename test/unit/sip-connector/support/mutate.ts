/**
 * Deterministic input mutation for the fuzz tests (SIP messages, SDP bodies): a small PRNG, so a failure
 * replays from its seed, and byte, line and token mutations.
 */

/** Small deterministic PRNG so a failure can be replayed from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const INTERESTING = ['\r\n', ' ', '\t', ':', ';', ',', '"', '<', '>', '@', '[', ']', '%', '=', '\\', '\0', '\u00ff', '日', 'SIP/2.0', 'sip:', ';branch=', 'Content-Length: 99999'];

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

