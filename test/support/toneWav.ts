import { writeFileSync } from 'node:fs';

export interface ToneWavOptions {
  frequencyHz: number;
  seconds?: number;
  sampleRate?: number;
  /** The same tone in every channel. */
  channels?: number;
  /** Peak amplitude, 0..1 of full scale. */
  amplitude?: number;
}

/**
 * Writes a 16-bit PCM WAV holding a sine tone (Chromium's fake microphone loops it; baresip's aufile source
 * plays it), mono unless told otherwise.
 */
export function writeToneWav(file: string, { frequencyHz, seconds = 5, sampleRate = 48_000, channels = 1, amplitude = 0.5 }: ToneWavOptions): void {
  // A whole number of periods per file makes the loop seamless, so no click shows up in the spectrum.
  const periods = Math.max(1, Math.round(frequencyHz * seconds));
  const samples = Math.round((periods / frequencyHz) * sampleRate);
  const dataBytes = samples * channels * 2;
  const wav = Buffer.alloc(44 + dataBytes);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + dataBytes, 4);
  wav.write('WAVE', 8, 'ascii');
  wav.write('fmt ', 12, 'ascii');
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(channels, 22);
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  wav.writeUInt16LE(channels * 2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples; i++) {
    const value = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
    for (let c = 0; c < channels; c++) wav.writeInt16LE(value, 44 + (i * channels + c) * 2);
  }
  writeFileSync(file, wav);
}
