import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../server/logging/Logger.js';

export type PromptName = 'enter-pin' | 'wrong-pin' | 'goodbye';

/** The prompts shipped in the repository (scripts/generate-prompts.sh). */
export const DEFAULT_PROMPT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prompts');

const logger = createLogger('prompts');

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

/** Reads a 16-bit PCM mono WAV; returns its samples and rate. */
export function readWav(data: Buffer): { sampleRate: number; samples: Int16Array } {
  if (data.length < 12 || data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let offset = 12;
  let format: { channels: number; sampleRate: number; bits: number; tag: number } | null = null;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (body + size > data.length && id !== 'data') throw new WavFormatError(`truncated ${id} chunk`);
    if (id === 'fmt ') {
      format = { tag: data.readUInt16LE(body), channels: data.readUInt16LE(body + 2), sampleRate: data.readUInt32LE(body + 4),
        bits: data.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!format) throw new WavFormatError('data before fmt');
      // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which sox writes for some outputs; its samples are still PCM here.
      if ((format.tag !== 1 && format.tag !== 0xfffe) || format.bits !== 16 || format.channels !== 1) {
        throw new WavFormatError('only 16-bit PCM mono is supported');
      }
      const length = Math.min(size, data.length - body) >> 1;
      const samples = new Int16Array(length);
      for (let i = 0; i < length; i++) samples[i] = data.readInt16LE(body + i * 2);
      return { sampleRate: format.sampleRate, samples };
    }
    offset = body + size + (size & 1);
  }
  throw new WavFormatError('no data chunk');
}

/**
 * Caller prompts as 8 kHz PCM, loaded once. A missing or unreadable prompt is logged and played as
 * silence: a call must never fail for want of a recording.
 */
export class PromptLibrary {
  readonly #cache = new Map<PromptName, Int16Array | null>();
  readonly #dir: string;

  constructor(dir = DEFAULT_PROMPT_DIR) {
    this.#dir = dir;
  }

  /** The prompt's samples at 8 kHz, or null (silence) when it cannot be had. */
  get(name: PromptName): Int16Array | null {
    if (this.#cache.has(name)) return this.#cache.get(name)!;
    let samples: Int16Array | null = null;
    try {
      const wav = readWav(readFileSync(path.join(this.#dir, `${name}.wav`)));
      if (wav.sampleRate !== 8000) throw new WavFormatError(`${wav.sampleRate} Hz; prompts are 8000 Hz`);
      samples = wav.samples;
    } catch (error) {
      logger.warn({ prompt: name, error: (error as Error).message }, 'prompt unavailable; playing silence');
    }
    this.#cache.set(name, samples);
    return samples;
  }
}
