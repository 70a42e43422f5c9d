import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { OpusAddonError } from './OpusAddonError.js';

/** Encoder as exposed by native/opus_addon.c. */
export interface NativeOpusEncoder {
  encodeInto(pcm: Int16Array, out: Uint8Array): number;
  setBitrate(bitsPerSecond: number): void;
  setInbandFec(enabled: boolean): void;
  setPacketLossPerc(percent: number): void;
  setComplexity(complexity: number): void;
  setDtx(enabled: boolean): void;
  destroy(): void;
}

/** Decoder as exposed by native/opus_addon.c. */
export interface NativeOpusDecoder {
  decodeInto(packet: Uint8Array, out: Int16Array): number;
  decodePlcInto(frameSamples: number, out: Int16Array): number;
  decodeFecInto(packet: Uint8Array, frameSamples: number, out: Int16Array): number;
  destroy(): void;
}

/** The addon's exports. */
export interface OpusAddon {
  OpusEncoder: new (sampleRate: number, channels: number, application: number) => NativeOpusEncoder;
  OpusDecoder: new (sampleRate: number, channels: number) => NativeOpusDecoder;
  packetSamples(packet: Uint8Array, sampleRate: number): number;
  version: string;
}

const ADDON_PATH = fileURLToPath(new URL('./native/build/opus.node', import.meta.url));
let cached: OpusAddon | null = null;

/** Loads the libopus addon once per thread; throws OpusAddonError with the fix if it is not built. */
export function opusAddon(): OpusAddon {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) {
    throw new OpusAddonError(`Opus addon not built at ${ADDON_PATH}: run bash scripts/build-native-addons.sh`);
  }
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as OpusAddon;
  } catch (error) {
    throw new OpusAddonError(`cannot load ${ADDON_PATH}: ${(error as Error).message}`, { cause: error });
  }
  return cached;
}
