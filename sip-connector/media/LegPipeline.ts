import type { AudioCodec } from './AudioCodec.js';
import { createAudioCodec, mixerCodecName, mixerCodecRates } from './createAudioCodec.js';
import { DtmfGenerator, type DtmfPacket } from './DtmfGenerator.js';
import { MediaConfigError } from './MediaConfigError.js';
import { Resampler } from './Resampler.js';
import { RtpPacketizer } from './RtpPacketizer.js';

/** Configuration of one outgoing mix-minus stream. */
export interface LegPipelineOptions {
  legId: string;
  codec: string;
  payloadType: number;
  clockRate: number;
  /** Packet time; a multiple of the 20 ms mixing frame. */
  ptimeMs?: number;
  /** Rate of the mix this leg is fed from. */
  mixRate: number;
  /** telephone-event payload type, needed to send DTMF to the leg. */
  dtmfPayloadType?: number;
  /** Fixed RTP identifiers for tests. */
  ssrc?: number;
  initialSequence?: number;
  initialTimestamp?: number;
}

const FRAME_MS = 20;

/**
 * Send side of one participant: mix-minus frame → resample to the codec rate → encode → RTP packetize.
 * `process` is called once per 20 ms mixer tick and returns the datagram to send, or null while a longer
 * ptime is still accumulating. DTMF queued with `sendDtmf` replaces audio packets for the event's length.
 */
export class LegPipeline {
  readonly legId: string;
  readonly codecName: string;
  readonly codec: AudioCodec;
  readonly packetizer: RtpPacketizer;
  readonly mixRate: number;
  readonly ptimeMs: number;
  private readonly resampler: Resampler | null;
  private readonly codecFrame: Int16Array;
  private readonly packetPcm: Int16Array;
  private readonly framesPerPacket: number;
  private framesQueued = 0;
  private readonly dtmfPayloadType: number | null;
  private readonly dtmfGenerator: DtmfGenerator | null;
  private readonly dtmfQueue: DtmfPacket[] = [];
  private readonly pendingDigits: { digit: string; durationMs: number }[] = [];
  private dtmfTimestampBase = 0;
  private dtmfCursor = 0;
  /** Queued announcement at the codec rate, played over (or, isolated, instead of) the mix. */
  private prompt: Int16Array | null = null;
  private promptCursor = 0;
  /** An isolated leg hears no mix, only prompts (a caller typing a PIN). */
  private isolated = false;

  constructor(options: LegPipelineOptions) {
    this.legId = options.legId;
    this.codecName = mixerCodecName(options.codec);
    this.codec = createAudioCodec(this.codecName);
    this.mixRate = options.mixRate;
    this.ptimeMs = options.ptimeMs ?? FRAME_MS;
    if (this.ptimeMs <= 0 || this.ptimeMs % FRAME_MS !== 0 || this.ptimeMs > 60) {
      throw new MediaConfigError(`ptime ${this.ptimeMs} ms: the mixer sends 20, 40 or 60 ms packets`);
    }
    const expectedClock = mixerCodecRates(this.codecName).clockRate;
    if (options.clockRate !== expectedClock) {
      throw new MediaConfigError(`${this.codecName} uses a ${expectedClock} Hz RTP clock, not ${options.clockRate}`);
    }
    this.framesPerPacket = this.ptimeMs / FRAME_MS;
    const codecRate = this.codec.sampleRate;
    this.resampler = codecRate === this.mixRate ? null : new Resampler(this.mixRate, codecRate, this.mixRate / 50);
    this.codecFrame = new Int16Array(codecRate / 50);
    this.packetPcm = new Int16Array((codecRate * this.ptimeMs) / 1000);
    // Opus at 510 kbit/s for 60 ms is under 4 kB; G.711 is one byte per sample, G.722 one per two.
    const maxPayload = this.codecName === 'opus' ? 4000
      : this.codecName === 'G722' ? this.packetPcm.length / 2 : this.packetPcm.length;
    this.packetizer = new RtpPacketizer({ payloadType: options.payloadType, clockRate: options.clockRate,
      ptimeMs: this.ptimeMs, maxPayload, ssrc: options.ssrc, initialSequence: options.initialSequence,
      initialTimestamp: options.initialTimestamp });
    this.dtmfPayloadType = options.dtmfPayloadType ?? null;
    this.dtmfGenerator = this.dtmfPayloadType === null ? null
      : new DtmfGenerator({ clockRate: options.clockRate, ptimeMs: this.ptimeMs });
  }

  /** Stage names from the mix to the wire, for AudioLegPipeline.describe(). */
  describeStages(): string[] {
    const stages: string[] = [];
    if (this.resampler) stages.push(`resample(${this.mixRate}→${this.codec.sampleRate})`);
    stages.push(`encode(${this.codecName})`, `rtp(pt=${this.packetizer.payloadType}, ptime=${this.ptimeMs})`);
    return stages;
  }

  /** Queues a DTMF key press to send as RFC 4733 events; throws if no telephone-event type was negotiated. */
  sendDtmf(digit: string, durationMs = 100): void {
    if (!this.dtmfGenerator) throw new MediaConfigError(`leg ${this.legId} has no telephone-event payload type`);
    // Validate now so a bad digit fails the caller, not the mixer tick.
    this.dtmfGenerator.packets(digit, durationMs, 0);
    this.pendingDigits.push({ digit, durationMs });
  }

  /** Keeps the room's mix from this leg (true) or lets it through again. */
  setIsolated(isolated: boolean): void {
    this.isolated = isolated;
  }

  /** Plays `samples` (at `sampleRate`) to this leg from the next frame, replacing any prompt playing. */
  playPrompt(samples: Int16Array, sampleRate: number): void {
    const codecRate = this.codec.sampleRate;
    if (sampleRate === codecRate) {
      this.prompt = samples.slice();
    } else {
      const inFrame = sampleRate / 50;
      const resampler = new Resampler(sampleRate, codecRate, inFrame);
      const frames = Math.ceil(samples.length / inFrame);
      const input = new Int16Array(inFrame);
      const output = new Int16Array(codecRate / 50);
      const converted = new Int16Array(frames * output.length);
      for (let i = 0; i < frames; i++) {
        input.fill(0);
        input.set(samples.subarray(i * inFrame, (i + 1) * inFrame));
        resampler.process(input, output);
        converted.set(output, i * output.length);
      }
      this.prompt = converted;
    }
    this.promptCursor = 0;
  }

  /** True while a prompt is still playing. */
  get playingPrompt(): boolean {
    return this.prompt !== null;
  }

  private overlayPrompt(): void {
    const frame = this.codecFrame;
    if (this.isolated) frame.fill(0);
    const prompt = this.prompt;
    if (!prompt) return;
    for (let i = 0; i < frame.length && this.promptCursor < prompt.length; i++) {
      const sum = frame[i]! + prompt[this.promptCursor++]!;
      frame[i] = sum > 32767 ? 32767 : sum < -32768 ? -32768 : sum;
    }
    if (this.promptCursor >= prompt.length) this.prompt = null;
  }

  /** Consumes one 20 ms mix frame at mixRate; returns a datagram to send now, or null. */
  process(mixFrame: Int16Array): Buffer | null {
    if (this.resampler) this.resampler.process(mixFrame, this.codecFrame);
    else this.codecFrame.set(mixFrame.subarray(0, this.codecFrame.length));
    if (this.isolated || this.prompt) this.overlayPrompt();
    this.packetPcm.set(this.codecFrame, this.framesQueued * this.codecFrame.length);
    this.framesQueued++;
    if (this.framesQueued < this.framesPerPacket) return null;
    this.framesQueued = 0;
    const dtmf = this.nextDtmf();
    if (dtmf) return dtmf;
    const buf = this.packetizer.nextBuffer();
    const payload = RtpPacketizer.payloadView(buf);
    const bytes = this.codec.encode(this.packetPcm, this.packetPcm.length, payload);
    return this.packetizer.finishAudio(buf, bytes);
  }

  /** Releases the codec. */
  close(): void {
    this.codec.close();
  }

  private nextDtmf(): Buffer | null {
    if (this.dtmfQueue.length === 0) {
      const next = this.pendingDigits.shift();
      if (!next || !this.dtmfGenerator) return null;
      // The event starts at the timestamp the audio would have had (RFC 4733 §2.5.1.2).
      this.dtmfTimestampBase = this.packetizer.nextTimestamp;
      this.dtmfQueue.push(...this.dtmfGenerator.packets(next.digit, next.durationMs, this.dtmfTimestampBase));
      this.dtmfCursor = 0;
    }
    const event = this.dtmfQueue[this.dtmfCursor++];
    if (this.dtmfCursor >= this.dtmfQueue.length) {
      this.dtmfQueue.length = 0;
      // Audio after the event starts a new talkspurt.
      this.packetizer.markTalkspurt();
    }
    // The audio clock keeps running under the event so audio resumes at the right timestamp.
    this.packetizer.skipFrame();
    const buf = this.packetizer.nextBuffer();
    RtpPacketizer.payloadView(buf).set(event.payload);
    return this.packetizer.finishOther(buf, event.payload.length, this.dtmfPayloadType ?? 0, event.timestamp,
      event.marker);
  }
}
