import type { AudioCodec } from './AudioCodec.js';
import { G711Codec } from './G711Codec.js';
import { MediaConfigError } from './MediaConfigError.js';
import { OpusCodec } from './OpusCodec.js';

/** Codec names the mixer handles, as they appear in SDP rtpmap (case-insensitive there). */
export type MixerCodecName = 'PCMU' | 'PCMA' | 'opus';

/** Normalises an SDP codec name; throws MediaConfigError for codecs the mixer cannot decode. */
export function mixerCodecName(name: string): MixerCodecName {
  const upper = name.toUpperCase();
  if (upper === 'PCMU' || upper === 'PCMA') return upper;
  if (upper === 'OPUS') return 'opus';
  throw new MediaConfigError(`codec ${name} is not supported by the mixer`);
}

/** Creates a mono codec instance for the mixer: G.711 at 8 kHz or Opus at 48 kHz. */
export function createAudioCodec(name: string): AudioCodec {
  const codec = mixerCodecName(name);
  return codec === 'opus' ? new OpusCodec({ sampleRate: 48000, channels: 1 }) : new G711Codec(codec);
}
