import type { AudioCodec } from './AudioCodec.js';
import { createAudioCodec, mixerCodecName, mixerCodecRates } from './createAudioCodec.js';
import { DtmfDetector, type DtmfEvent } from './DtmfDetector.js';
import { JitterBuffer } from './JitterBuffer.js';
import { MediaConfigError } from './MediaConfigError.js';
import { OpusCodec } from './OpusCodec.js';
import { Resampler } from './Resampler.js';
import { RtpPacket } from './RtpPacket.js';
import { RtpParseError } from './RtpParseError.js';

/** Configuration of one incoming audio stream. */
export interface SourcePipelineOptions {
  sourceId: string;
  codec: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  /** Payload type of telephone-event on this stream, if negotiated. */
  dtmfPayloadType?: number;
  jitterTargetMs?: number;
  adaptiveJitter?: boolean;
  /** Called for DTMF starts and ends seen on the stream. */
  onDtmf?: (event: DtmfEvent) => void;
}

/** Counters of one source. */
export interface SourceStats {
  packets: number;
  malformed: number;
  unknownPayloadType: number;
  decodeErrors: number;
  concealedFrames: number;
  late: number;
  duplicates: number;
}

const FRAME_MS = 20;

/**
 * Receive side of one participant: RTP parse → jitter buffer → decode (with concealment of gaps) → resample
 * to each mixing rate. The mixer clock pulls one 20 ms frame per tick; decoded audio goes through a small
 * FIFO so packets of other durations (10, 30, 60 ms) still yield exact 20 ms frames.
 */
export class SourcePipeline {
  readonly sourceId: string;
  readonly codecName: string;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly jitter: JitterBuffer;
  readonly codec: AudioCodec;
  /** Samples per 20 ms at the codec's PCM rate. */
  readonly frameSamples: number;
  /** The frame produced by the last pull, at the codec's PCM rate. */
  readonly frame: Int16Array;
  private readonly dtmfPayloadType: number | null;
  private readonly dtmf: DtmfDetector | null;
  private readonly fifo: Int16Array;
  private fifoLength = 0;
  private readonly scratch: Int16Array;
  private readonly lastGood: Int16Array;
  private hasLastGood = false;
  private active = false;
  private readonly resamplers = new Map<number, Resampler>();
  private readonly jitterTargetMs: number;
  readonly stats: SourceStats = { packets: 0, malformed: 0, unknownPayloadType: 0, decodeErrors: 0,
    concealedFrames: 0, late: 0, duplicates: 0 };

  constructor(options: SourcePipelineOptions) {
    this.sourceId = options.sourceId;
    this.codecName = mixerCodecName(options.codec);
    this.payloadType = options.payloadType;
    this.clockRate = options.clockRate;
    const expectedClock = mixerCodecRates(this.codecName).clockRate;
    if (this.clockRate !== expectedClock) {
      throw new MediaConfigError(`${this.codecName} uses a ${expectedClock} Hz RTP clock, not ${this.clockRate}`);
    }
    this.jitterTargetMs = options.jitterTargetMs ?? 60;
    this.jitter = new JitterBuffer({ clockRate: this.clockRate, targetDelayMs: this.jitterTargetMs,
      adaptive: options.adaptiveJitter ?? false });
    this.codec = createAudioCodec(this.codecName);
    this.frameSamples = (this.codec.sampleRate * FRAME_MS) / 1000;
    this.frame = new Int16Array(this.frameSamples);
    // Room for one 120 ms packet on top of a partial frame.
    this.fifo = new Int16Array(this.codec.sampleRate * 0.12 + this.frameSamples);
    this.scratch = new Int16Array(this.codec.sampleRate * 0.12);
    this.lastGood = new Int16Array(this.frameSamples);
    this.dtmfPayloadType = options.dtmfPayloadType ?? null;
    const onDtmf = options.onDtmf;
    this.dtmf = this.dtmfPayloadType !== null && onDtmf ? new DtmfDetector(this.clockRate, onDtmf) : null;
  }

  /** Stage names of this source up to the mix, for AudioLegPipeline.describe(). */
  describeStages(mixRate: number): string[] {
    const rate = this.codec.sampleRate;
    const jitter = this.jitter.targetDelayMs;
    const stages = [`rtp(${this.codecName}/${this.clockRate})`, `jitter(${jitter}ms)`, `decode(${this.codecName})`];
    if (rate !== mixRate) stages.push(`resample(${rate}→${mixRate})`);
    return stages;
  }

  /** Whether the last pulled frame carries audio. */
  get isActive(): boolean {
    return this.active;
  }

  /** Takes one datagram off the wire. Malformed packets are counted and dropped, never thrown. */
  receive(datagram: Uint8Array, nowMs: number): void {
    let packet: RtpPacket;
    try {
      packet = RtpPacket.parse(datagram);
    } catch (error) {
      if (error instanceof RtpParseError) {
        this.stats.malformed++;
        return;
      }
      throw error;
    }
    this.stats.packets++;
    if (packet.payloadType === this.payloadType) {
      if (packet.payload.length === 0) return;
      this.jitter.push(packet, nowMs);
    } else if (packet.payloadType === this.dtmfPayloadType) {
      this.dtmf?.push(packet, nowMs);
    } else {
      this.stats.unknownPayloadType++;
    }
  }

  /** Lets the DTMF detector end events whose end packets were lost. */
  poll(nowMs: number): void {
    this.dtmf?.poll(nowMs);
  }

  /** Produces the next 20 ms into `frame`; returns whether the source is active (false: silent, skip it). */
  pull(): boolean {
    const n = this.frameSamples;
    while (this.fifoLength < n) {
      const slot = this.jitter.pull();
      if (slot.kind === 'empty') break;
      let got = 0;
      if (slot.kind === 'packet') {
        got = this.decodePacket(slot.packet.payload);
      } else {
        got = this.conceal(slot.samples, slot.next?.payload ?? null);
      }
      if (got <= 0) continue;
      const room = this.fifo.length - this.fifoLength;
      const take = Math.min(got, room);
      this.fifo.set(this.scratch.subarray(0, take), this.fifoLength);
      this.fifoLength += take;
    }
    const s = this.jitter.stats;
    this.stats.late = s.late;
    this.stats.duplicates = s.duplicates;
    if (this.fifoLength === 0) {
      if (this.active) this.resetResamplers();
      this.active = false;
      this.hasLastGood = false;
      return false;
    }
    const take = Math.min(n, this.fifoLength);
    this.frame.set(this.fifo.subarray(0, take));
    if (take < n) this.frame.fill(0, take);
    this.fifo.copyWithin(0, take, this.fifoLength);
    this.fifoLength -= take;
    this.active = true;
    return true;
  }

  /**
   * Writes the last pulled frame resampled to `rate` into out (rate/50 samples). Each rate keeps its own
   * filter state, so call it exactly once per tick per rate.
   */
  frameAt(rate: number, out: Int16Array): void {
    if (rate === this.codec.sampleRate) {
      out.set(this.frame);
      return;
    }
    let resampler = this.resamplers.get(rate);
    if (!resampler) {
      resampler = new Resampler(this.codec.sampleRate, rate, this.frameSamples);
      this.resamplers.set(rate, resampler);
    }
    resampler.process(this.frame, out);
  }

  /** Releases the codec. */
  close(): void {
    this.codec.close();
  }

  private decodePacket(payload: Uint8Array): number {
    try {
      const n = this.codec.decode(payload, this.scratch);
      if (n >= this.frameSamples) {
        this.lastGood.set(this.scratch.subarray(n - this.frameSamples, n));
        this.hasLastGood = true;
      }
      return n;
    } catch (error) {
      // A corrupt packet is a lost packet to the listener: conceal it instead of going silent.
      this.stats.decodeErrors++;
      void error;
      return this.conceal(this.frameSamples, null);
    }
  }

  private conceal(samples: number, next: Uint8Array | null): number {
    // Gap sizes are in RTP clock units; the codec's PCM rate may differ.
    const pcmSamples = Math.min(this.scratch.length,
      Math.round((samples * this.codec.sampleRate) / this.clockRate) || this.frameSamples);
    this.stats.concealedFrames++;
    try {
      if (this.codec instanceof OpusCodec) {
        // In-band FEC of the following packet reconstructs the lost one better than blind PLC.
        if (next) return this.codec.decodeFec(next, pcmSamples, this.scratch);
        return this.codec.conceal(pcmSamples, this.scratch);
      }
      const previous = this.hasLastGood ? this.lastGood : null;
      // One faded repeat of the last frame, then silence: repeating it longer sounds like a stuck buzz.
      this.hasLastGood = false;
      return this.codec.conceal(pcmSamples, this.scratch, previous);
    } catch {
      this.stats.decodeErrors++;
      this.scratch.fill(0, 0, pcmSamples);
      return pcmSamples;
    }
  }

  private resetResamplers(): void {
    for (const r of this.resamplers.values()) r.reset();
  }
}
