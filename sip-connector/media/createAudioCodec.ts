import type { AudioCodec } from './AudioCodec.js';
import { G711Codec } from './G711Codec.js';
import { G722Codec } from './G722Codec.js';
import { MediaConfigError } from './MediaConfigError.js';
import { OpusCodec } from './OpusCodec.js';

/** Codec names the mixer handles, as they appear in SDP rtpmap (case-insensitive there). */
export type MixerCodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus';

/** Normalises an SDP codec name; throws MediaConfigError for codecs the mixer cannot decode. */
export function mixerCodecName(name: string): MixerCodecName {
  const upper = name.toUpperCase();
  if (upper === 'PCMU' || upper === 'PCMA' || upper === 'G722') return upper;
  if (upper === 'OPUS') return 'opus';
  throw new MediaConfigError(`codec ${name} is not supported by the mixer`);
}

/**
 * PCM rate and RTP clock rate of a mixer codec. They differ for G.722, which samples at 16 kHz but keeps
 * the 8 kHz RTP clock of its original, mistaken registration (RFC 3551 §4.5.2).
 */
export function mixerCodecRates(name: string): { sampleRate: number; clockRate: number } {
  const codec = mixerCodecName(name);
  if (codec === 'opus') return { sampleRate: 48000, clockRate: 48000 };
  if (codec === 'G722') return { sampleRate: 16000, clockRate: G722Codec.rtpClockRate };
  return { sampleRate: 8000, clockRate: 8000 };
}

/** Creates a mono codec instance for the mixer: G.711 at 8 kHz, G.722 at 16 kHz or Opus at 48 kHz. */
export function createAudioCodec(name: string): AudioCodec {
  const codec = mixerCodecName(name);
  if (codec === 'opus') return new OpusCodec({ sampleRate: 48000, channels: 1 });
  if (codec === 'G722') return new G722Codec();
  return new G711Codec(codec);
}
