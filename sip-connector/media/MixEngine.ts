import { AudioLegPipeline } from './AudioLegPipeline.js';
import { mixerCodecRates } from './createAudioCodec.js';
import type { DtmfEvent } from './DtmfDetector.js';
import { LegPipeline, type LegPipelineOptions } from './LegPipeline.js';
import { MediaConfigError } from './MediaConfigError.js';
import { MixMinusMixer } from './MixMinusMixer.js';
import { SourcePipeline, type SourcePipelineOptions } from './SourcePipeline.js';

/** Engine-wide options. */
export interface MixEngineOptions {
  /**
   * Mix every leg at this rate. Unset (the default), each leg is mixed at its codec's own rate, so a
   * phone-only conference never leaves 8 kHz and each source is resampled once per rate, not once per leg.
   */
  mixRate?: number;
  jitterTargetMs?: number;
  adaptiveJitter?: boolean;
}

/** Where a leg's datagrams go; the engine itself does no I/O. */
export type LegSink = (legId: string, datagram: Buffer) => void;

/** Counters over the engine's life. */
export interface MixEngineStats {
  ticks: number;
  framesMixed: number;
  packetsOut: number;
  concealedFrames: number;
  latePackets: number;
  malformedPackets: number;
  sources: number;
  legs: number;
  buses: number;
}

interface Bus {
  rate: number;
  mixer: MixMinusMixer;
  legs: Set<string>;
}

/** Options of a source as given to the engine (the engine fills in jitter defaults). */
export type EngineSourceOptions = Omit<SourcePipelineOptions, 'onDtmf' | 'jitterTargetMs' | 'adaptiveJitter'>;
/** Options of a leg as given to the engine (the engine picks the mix rate). */
export type EngineLegOptions = Omit<LegPipelineOptions, 'mixRate'> & { ownSourceIds: string[] };

/**
 * The whole mix, single-threaded and clock-less: sources receive datagrams at any time, and each `tick`
 * pulls 20 ms from every source, mixes one bus per rate in use, and emits one frame per leg. MixerThread
 * runs it inside a worker on a 20 ms clock; the benchmark drives it directly.
 */
export class MixEngine {
  private readonly sources = new Map<string, SourcePipeline>();
  private readonly legs = new Map<string, { pipeline: LegPipeline; own: string[]; bus: Bus }>();
  private readonly buses = new Map<number, Bus>();
  /** Sources still decoded (DTMF is detected) but left out of every mix: a muted phone, a caller typing a PIN. */
  private readonly muted = new Set<string>();
  private readonly totals = { ticks: 0, framesMixed: 0, packetsOut: 0 };

  constructor(
    private readonly sink: LegSink,
    private readonly onDtmf: (sourceId: string, event: DtmfEvent) => void = () => {},
    private readonly options: MixEngineOptions = {},
  ) {}

  /** Adds a source; its frames join every bus from the next tick. */
  addSource(options: EngineSourceOptions): SourcePipeline {
    if (this.sources.has(options.sourceId)) throw new MediaConfigError(`source ${options.sourceId} exists`);
    const source = new SourcePipeline({ ...options, jitterTargetMs: this.options.jitterTargetMs,
      adaptiveJitter: this.options.adaptiveJitter, onDtmf: (e) => this.onDtmf(options.sourceId, e) });
    this.sources.set(options.sourceId, source);
    for (const bus of this.buses.values()) bus.mixer.addSource(options.sourceId);
    return source;
  }

  /** Removes a source and frees its codec. */
  removeSource(sourceId: string): boolean {
    const source = this.sources.get(sourceId);
    if (!source) return false;
    this.sources.delete(sourceId);
    this.muted.delete(sourceId);
    for (const bus of this.buses.values()) bus.mixer.removeSource(sourceId);
    source.close();
    return true;
  }

  /** Keeps a source out of (or back in) every mix without dropping it. */
  setSourceMuted(sourceId: string, muted: boolean): void {
    if (!this.sources.has(sourceId)) throw new MediaConfigError(`unknown source ${sourceId}`);
    if (muted) this.muted.add(sourceId);
    else this.muted.delete(sourceId);
  }

  /** Adds a leg; it gets its first packet on the next tick. */
  addLeg(options: EngineLegOptions): LegPipeline {
    if (this.legs.has(options.legId)) throw new MediaConfigError(`leg ${options.legId} exists`);
    const { ownSourceIds, ...legOptions } = options;
    const codecRate = mixerCodecRates(legOptions.codec).sampleRate;
    const rate = this.options.mixRate ?? codecRate;
    const pipeline = new LegPipeline({ ...legOptions, mixRate: rate });
    let bus = this.buses.get(rate);
    if (!bus) {
      bus = { rate, mixer: new MixMinusMixer(rate), legs: new Set() };
      for (const id of this.sources.keys()) bus.mixer.addSource(id);
      this.buses.set(rate, bus);
    }
    bus.mixer.addLeg(options.legId, ownSourceIds);
    bus.legs.add(options.legId);
    this.legs.set(options.legId, { pipeline, own: [...ownSourceIds], bus });
    return pipeline;
  }

  /** Removes a leg; a bus with no legs left is dropped so its sources stop being resampled. */
  removeLeg(legId: string): boolean {
    const leg = this.legs.get(legId);
    if (!leg) return false;
    this.legs.delete(legId);
    leg.bus.mixer.removeLeg(legId);
    leg.bus.legs.delete(legId);
    if (leg.bus.legs.size === 0) this.buses.delete(leg.bus.rate);
    leg.pipeline.close();
    return true;
  }

  /** Feeds a datagram that arrived for a source. */
  receive(sourceId: string, datagram: Uint8Array, nowMs: number): void {
    this.sources.get(sourceId)?.receive(datagram, nowMs);
  }

  /** Plays an announcement to one leg. */
  playPrompt(legId: string, samples: Int16Array, sampleRate: number): void {
    const leg = this.legs.get(legId);
    if (!leg) throw new MediaConfigError(`unknown leg ${legId}`);
    leg.pipeline.playPrompt(samples, sampleRate);
  }

  /** Keeps the mix from a leg (it then hears only prompts) or lets it through. */
  setLegIsolated(legId: string, isolated: boolean): void {
    const leg = this.legs.get(legId);
    if (!leg) throw new MediaConfigError(`unknown leg ${legId}`);
    leg.pipeline.setIsolated(isolated);
  }

  /** Queues DTMF towards a leg. */
  sendDtmf(legId: string, digit: string, durationMs?: number): void {
    const leg = this.legs.get(legId);
    if (!leg) throw new MediaConfigError(`unknown leg ${legId}`);
    leg.pipeline.sendDtmf(digit, durationMs);
  }

  /** The composed path of a leg, with its first own source as the inbound half. */
  pipelineOf(legId: string): AudioLegPipeline {
    const leg = this.legs.get(legId);
    if (!leg) throw new MediaConfigError(`unknown leg ${legId}`);
    const source = leg.own.map((id) => this.sources.get(id)).find((s) => s !== undefined) ?? null;
    return new AudioLegPipeline(source, leg.pipeline);
  }

  /** One 20 ms step of the whole mix. */
  tick(nowMs: number): void {
    this.totals.ticks++;
    for (const source of this.sources.values()) {
      source.poll(nowMs);
      source.pull();
    }
    for (const bus of this.buses.values()) {
      const mixer = bus.mixer;
      for (const [id, source] of this.sources) {
        if (!source.isActive || this.muted.has(id)) continue;
        source.frameAt(bus.rate, mixer.sourceFrame(id));
        mixer.setActive(id, true);
      }
      mixer.mix();
      for (const legId of bus.legs) {
        const leg = this.legs.get(legId);
        if (!leg) continue;
        const datagram = leg.pipeline.process(mixer.legOutput(legId));
        this.totals.framesMixed++;
        if (datagram) {
          this.totals.packetsOut++;
          this.sink(legId, datagram);
        }
      }
      mixer.endTick();
    }
  }

  /** Snapshot of the counters. */
  /** Whether there is nothing to tick: no source to decode, no leg to send to. */
  get idle(): boolean {
    return this.sources.size === 0 && this.legs.size === 0;
  }

    stats(): MixEngineStats {
    let concealedFrames = 0;
    let latePackets = 0;
    let malformedPackets = 0;
    for (const s of this.sources.values()) {
      concealedFrames += s.stats.concealedFrames;
      latePackets += s.stats.late;
      malformedPackets += s.stats.malformed;
    }
    return { ...this.totals, concealedFrames, latePackets, malformedPackets, sources: this.sources.size,
      legs: this.legs.size, buses: this.buses.size };
  }

  /** Frees every codec. */
  close(): void {
    for (const id of [...this.legs.keys()]) this.removeLeg(id);
    for (const id of [...this.sources.keys()]) this.removeSource(id);
  }
}
