import type { LegPipeline } from './LegPipeline.js';
import type { SourcePipeline } from './SourcePipeline.js';

/**
 * One participant's path through the mixer: its own stream in (parse → jitter → decode → resample to the
 * mix rate), the mix-minus, and its stream out (resample → encode → packetize). The mixer runs these halves
 * at different moments of a tick; this class composes them so the whole path can be inspected and printed.
 */
export class AudioLegPipeline {
  constructor(
    readonly source: SourcePipeline | null,
    readonly leg: LegPipeline,
  ) {}

  /** Mixing rate of this path. */
  get mixRate(): number {
    return this.leg.mixRate;
  }

  /** Ordered stage names, e.g. rtp(PCMU/8000), jitter(60ms), decode(PCMU), …, rtp(pt=0, ptime=20). */
  stages(): string[] {
    const inbound = this.source ? this.source.describeStages(this.mixRate) : [];
    return [...inbound, 'mix-minus', ...this.leg.describeStages()];
  }

  /** The path as one line: stages joined by arrows. */
  describe(): string {
    return this.stages().join(' → ');
  }
}
