import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PromptLibrary, readWav, WavFormatError } from '../../../../sip-connector/calls/PromptLibrary.js';

function wav(samples: number[], sampleRate = 8000, channels = 1, bits = 16): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => data.writeInt16LE(sample, i * 2));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii'); header.writeUInt32LE(36 + data.length, 4); header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii'); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24); header.writeUInt32LE(sampleRate * channels * 2, 28); header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(bits, 34); header.write('data', 36, 'ascii'); header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

describe('PromptLibrary', () => {
  it('loads the shipped prompts as 8 kHz speech of a few seconds', () => {
    const library = new PromptLibrary();
    for (const name of ['enter-pin', 'wrong-pin', 'goodbye'] as const) {
      const samples = library.get(name);
      expect(samples, name).not.toBeNull();
      expect(samples!.length / 8000).toBeGreaterThan(1.5);
      expect(samples!.length / 8000).toBeLessThan(10);
      const peak = samples!.reduce((max, s) => Math.max(max, Math.abs(s)), 0);
      expect(peak).toBeGreaterThan(10_000);
    }
  });

  it('plays silence (null) for a missing or malformed prompt instead of throwing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-prompts-'));
    writeFileSync(path.join(dir, 'wrong-pin.wav'), 'not a wav');
    writeFileSync(path.join(dir, 'goodbye.wav'), wav([1, 2, 3], 16000));
    const library = new PromptLibrary(dir);
    expect(library.get('enter-pin')).toBeNull();
    expect(library.get('wrong-pin')).toBeNull();
    expect(library.get('goodbye')).toBeNull();
  });

  it('reads 16-bit mono PCM and refuses other formats', () => {
    expect(Array.from(readWav(wav([0, 1000, -1000, 32767])).samples)).toEqual([0, 1000, -1000, 32767]);
    expect(() => readWav(wav([1, 2], 8000, 2))).toThrow(WavFormatError);
    expect(() => readWav(Buffer.from('RIFF0000WAVE'))).toThrow(/no data/);
    expect(() => readWav(Buffer.alloc(4))).toThrow(WavFormatError);
  });
});
