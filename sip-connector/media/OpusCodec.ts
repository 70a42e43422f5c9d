import type { AudioCodec } from './AudioCodec.js';
import { MediaConfigError } from './MediaConfigError.js';
import { OpusCodecError } from './OpusCodecError.js';
import { opusAddon, type NativeOpusDecoder, type NativeOpusEncoder } from './opusAddon.js';

/** libopus application modes (opus_defines.h). */
export const OPUS_APPLICATION = { voip: 2048, audio: 2049, lowdelay: 2051 } as const;

/** Options for an Opus encoder/decoder pair. */
export interface OpusCodecOptions {
  sampleRate?: number;
  channels?: number;
  application?: keyof typeof OPUS_APPLICATION;
  bitrate?: number;
  /** Enables in-band FEC and tells the encoder the expected loss, so it spends bits on redundancy. */
  packetLossPercent?: number;
  complexity?: number;
}

// 120 ms at 48 kHz stereo: enough for any packet so decode never needs a resize.
const SCRATCH_SAMPLES = 5760 * 2;

function wrap(error: unknown): OpusCodecError {
  if (error instanceof OpusCodecError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'ERR_OPUS_CODEC';
  return new OpusCodecError(code, typeof e?.message === 'string' ? e.message : String(error), { cause: error });
}

/**
 * Opus (RFC 6716) through libopus. Encoder and decoder are created lazily, so a receive-only source
 * pays only for a decoder. Native errors surface as OpusCodecError.
 */
export class OpusCodec implements AudioCodec {
  readonly name = 'opus';
  readonly sampleRate: number;
  readonly channels: number;
  private encoder: NativeOpusEncoder | null = null;
  private decoder: NativeOpusDecoder | null = null;
  private readonly scratch = new Int16Array(SCRATCH_SAMPLES);
  private closed = false;

  constructor(private readonly options: OpusCodecOptions = {}) {
    this.sampleRate = options.sampleRate ?? 48000;
    this.channels = options.channels ?? 1;
    if (![8000, 12000, 16000, 24000, 48000].includes(this.sampleRate)) {
      throw new MediaConfigError(`Opus cannot run at ${this.sampleRate} Hz`);
    }
    if (this.channels !== 1 && this.channels !== 2) throw new MediaConfigError('Opus channels must be 1 or 2');
    // Fail at construction, not on the first packet, if the addon is missing.
    opusAddon();
  }

  /** Decodes a packet into out; returns samples per channel. Throws OpusCodecError on a corrupt packet. */
  decode(payload: Uint8Array, out: Int16Array): number {
    const decoder = this.getDecoder();
    try {
      const needed = opusAddon().packetSamples(payload, this.sampleRate) * this.channels;
      if (needed <= out.length) return decoder.decodeInto(payload, out);
      // A packet longer than the caller's frame: decode into scratch and keep what fits.
      const n = decoder.decodeInto(payload, this.scratch);
      out.set(this.scratch.subarray(0, out.length));
      return Math.min(n, out.length / this.channels);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** libopus packet-loss concealment: decodes a NULL packet extrapolating the last frames. */
  conceal(samples: number, out: Int16Array): number {
    try {
      return this.getDecoder().decodePlcInto(samples, out);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Recovers the frame before `nextPayload` from its in-band FEC data (falls back to PLC inside libopus). */
  decodeFec(nextPayload: Uint8Array, samples: number, out: Int16Array): number {
    try {
      return this.getDecoder().decodeFecInto(nextPayload, samples, out);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Encodes exactly `samples` samples per channel (a valid Opus frame length) into out; returns bytes. */
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number {
    const encoder = this.getEncoder();
    const input = pcm.length === samples * this.channels ? pcm : pcm.subarray(0, samples * this.channels);
    try {
      return encoder.encodeInto(input, out);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Samples per channel in a packet; throws OpusCodecError if the TOC is invalid. */
  samplesIn(payload: Uint8Array): number {
    try {
      return opusAddon().packetSamples(payload, this.sampleRate);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Changes the target bitrate of the encoder. */
  setBitrate(bitsPerSecond: number): void {
    try {
      this.getEncoder().setBitrate(bitsPerSecond);
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Frees native state now rather than at garbage collection. */
  close(): void {
    this.closed = true;
    this.encoder?.destroy();
    this.decoder?.destroy();
    this.encoder = null;
    this.decoder = null;
  }

  private getDecoder(): NativeOpusDecoder {
    if (this.closed) throw new OpusCodecError('ERR_OPUS_DESTROYED', 'OpusCodec is closed');
    this.decoder ??= new (opusAddon().OpusDecoder)(this.sampleRate, this.channels);
    return this.decoder;
  }

  private getEncoder(): NativeOpusEncoder {
    if (this.closed) throw new OpusCodecError('ERR_OPUS_DESTROYED', 'OpusCodec is closed');
    if (!this.encoder) {
      const o = this.options;
      const encoder = new (opusAddon().OpusEncoder)(this.sampleRate, this.channels,
        OPUS_APPLICATION[o.application ?? 'voip']);
      try {
        if (o.bitrate !== undefined) encoder.setBitrate(o.bitrate);
        if (o.complexity !== undefined) encoder.setComplexity(o.complexity);
        if (o.packetLossPercent !== undefined && o.packetLossPercent > 0) {
          encoder.setInbandFec(true);
          encoder.setPacketLossPerc(o.packetLossPercent);
        }
      } catch (error) {
        encoder.destroy();
        throw wrap(error);
      }
      this.encoder = encoder;
    }
    return this.encoder;
  }
}
