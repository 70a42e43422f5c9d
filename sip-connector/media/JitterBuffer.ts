import type { RtpPacket } from './RtpPacket.js';

/** Configuration of a JitterBuffer. */
export interface JitterBufferOptions {
  /** RTP clock rate of the stream. */
  clockRate: number;
  /** Target playout delay in ms for fixed mode, and the starting target in adaptive mode. */
  targetDelayMs?: number;
  /** Adapt the target to measured interarrival jitter (RFC 3550 §6.4.1 estimator). */
  adaptive?: boolean;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Expected packet duration until the stream shows its own. */
  ptimeMs?: number;
  /** Consecutive missing frames concealed before the source counts as silent and rebuffers. */
  maxConcealedFrames?: number;
  /** Bound on stored packets, so a flood cannot grow memory. */
  capacity?: number;
}

/** What the playout side gets for one packet slot. */
export type JitterPull =
  | { kind: 'packet'; packet: RtpPacket }
  /** A packet is missing here: conceal `samples` samples (PLC). `next` is the packet after the gap, if held. */
  | { kind: 'gap'; samples: number; next: RtpPacket | null }
  /** Nothing to play: not started, rebuffering, or the source went quiet. */
  | { kind: 'empty' };

/** Counters for stats and tests. */
export interface JitterBufferStats {
  received: number;
  played: number;
  late: number;
  duplicates: number;
  gaps: number;
  resets: number;
  overflows: number;
  targetDelayMs: number;
  jitterMs: number;
}

const SEQ_MOD = 65536;
// A sequence jump this large is a restarted sender, not loss.
const MAX_SEQ_JUMP = 3000;
// A timestamp that moves this far from what the sequence implies is a restarted clock (RFC 3550 §8.2 style).
const MAX_TS_JUMP_SECONDS = 30;
const EMPTY: JitterPull = { kind: 'empty' };

/**
 * Per-source RTP jitter buffer. Orders packets by extended sequence number (wraparound-safe), holds them for
 * a target delay before playout starts, drops late and duplicate packets, reports gaps so the decoder can
 * conceal, and resets on SSRC change or a timestamp/sequence jump. Playout is pulled one packet at a time by
 * the mixer clock, so the buffer itself needs no timers.
 */
export class JitterBuffer {
  private readonly clockRate: number;
  private readonly adaptive: boolean;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxConcealed: number;
  private readonly capacity: number;
  private targetMs: number;
  private readonly slots = new Map<number, RtpPacket>();
  private ssrc: number | null = null;
  /** Extended sequence number of the highest packet seen, and its raw timestamp. */
  private highestExt = -1;
  private highestTs = 0;
  /** Next extended sequence to play; -1 while buffering. */
  private nextExt = -1;
  private ptimeSamples: number;
  private concealedRun = 0;
  // Jitter estimator state (RFC 3550 A.8), in RTP clock units.
  private jitter = 0;
  private lastTransit: number | null = null;
  readonly stats: JitterBufferStats;

  constructor(options: JitterBufferOptions) {
    this.clockRate = options.clockRate;
    this.adaptive = options.adaptive ?? false;
    this.minDelayMs = options.minDelayMs ?? 20;
    this.maxDelayMs = options.maxDelayMs ?? 200;
    this.targetMs = options.targetDelayMs ?? 60;
    this.maxConcealed = options.maxConcealedFrames ?? 5;
    this.capacity = options.capacity ?? 128;
    this.ptimeSamples = ((options.ptimeMs ?? 20) * this.clockRate) / 1000;
    this.stats = { received: 0, played: 0, late: 0, duplicates: 0, gaps: 0, resets: 0, overflows: 0,
      targetDelayMs: this.targetMs, jitterMs: 0 };
  }

  /** Current target playout delay in ms. */
  get targetDelayMs(): number {
    return this.targetMs;
  }

  /** Whether playout has started (the buffer is past its initial fill). */
  get playing(): boolean {
    return this.nextExt >= 0;
  }

  /** Packets currently held. */
  get size(): number {
    return this.slots.size;
  }

  /** Stores a packet. `arrivalMs` feeds the jitter estimate. Returns false if it was dropped. */
  push(packet: RtpPacket, arrivalMs: number): boolean {
    this.stats.received++;
    if (this.ssrc !== null && packet.ssrc !== this.ssrc) this.reset();
    if (this.ssrc === null) {
      this.ssrc = packet.ssrc;
      this.highestExt = packet.sequenceNumber;
      this.highestTs = packet.timestamp;
    }
    const ext = this.extend(packet.sequenceNumber);
    const seqDelta = ext - this.highestExt;
    const tsDelta = (packet.timestamp - this.highestTs) | 0;
    if (Math.abs(seqDelta) > MAX_SEQ_JUMP || Math.abs(tsDelta) > MAX_TS_JUMP_SECONDS * this.clockRate) {
      this.reset();
      return this.push(packet, arrivalMs);
    }
    if (this.nextExt >= 0 && ext < this.nextExt) {
      this.stats.late++;
      return false;
    }
    if (this.slots.has(ext)) {
      this.stats.duplicates++;
      return false;
    }
    this.updateJitter(packet.timestamp, arrivalMs);
    if (seqDelta > 0) {
      // Learn the packet duration from consecutive packets, ignoring talkspurt gaps (marker bit).
      if (seqDelta === 1 && !packet.marker && tsDelta > 0 && tsDelta <= this.clockRate / 5) this.ptimeSamples = tsDelta;
      this.highestExt = ext;
      this.highestTs = packet.timestamp;
    }
    this.slots.set(ext, packet);
    if (this.slots.size > this.capacity) {
      this.stats.overflows++;
      this.dropOldest();
    }
    return true;
  }

  /** Takes the next packet slot for playout. */
  pull(): JitterPull {
    if (this.nextExt < 0) {
      if (!this.readyToStart()) return EMPTY;
      this.nextExt = this.lowestExt();
      this.concealedRun = 0;
    }
    const packet = this.slots.get(this.nextExt);
    if (packet) {
      this.slots.delete(this.nextExt);
      this.nextExt++;
      this.concealedRun = 0;
      this.stats.played++;
      this.trimExcess();
      return { kind: 'packet', packet };
    }
    if (this.slots.size === 0 && this.concealedRun >= this.maxConcealed) {
      // The sender stopped (hold, DTX, silence suppression): rebuffer so its next talkspurt gets the full delay.
      this.nextExt = -1;
      return EMPTY;
    }
    this.concealedRun++;
    this.stats.gaps++;
    this.nextExt++;
    const next = this.slots.get(this.nextExt) ?? null;
    // On underrun do not run ahead of the sender: a packet that is merely late still gets played.
    if (this.slots.size === 0 && this.nextExt > this.highestExt + 1) this.nextExt = this.highestExt + 1;
    return { kind: 'gap', samples: this.ptimeSamples, next };
  }

  /** Drops everything and starts over (new SSRC, restarted sender). */
  reset(): void {
    this.slots.clear();
    this.ssrc = null;
    this.highestExt = -1;
    this.nextExt = -1;
    this.concealedRun = 0;
    this.lastTransit = null;
    this.stats.resets++;
  }

  private extend(seq: number): number {
    // Choose the extended value closest to the highest seen, so 65535 → 0 continues upwards.
    const base = this.highestExt - (this.highestExt % SEQ_MOD);
    let ext = base + seq;
    if (ext - this.highestExt > SEQ_MOD / 2) ext -= SEQ_MOD;
    else if (this.highestExt - ext > SEQ_MOD / 2) ext += SEQ_MOD;
    // Keep extended numbers positive across an early backwards wrap.
    if (ext < 0) {
      this.rebase(SEQ_MOD);
      ext += SEQ_MOD;
    }
    return ext;
  }

  private rebase(offset: number): void {
    const entries = [...this.slots];
    this.slots.clear();
    for (const [ext, p] of entries) this.slots.set(ext + offset, p);
    this.highestExt += offset;
    if (this.nextExt >= 0) this.nextExt += offset;
  }

  private readyToStart(): boolean {
    if (this.slots.size === 0) return false;
    const buffered = (this.highestExt - this.lowestExt() + 1) * this.ptimeSamples;
    return (buffered * 1000) / this.clockRate >= this.targetMs;
  }

  private lowestExt(): number {
    let lowest = Infinity;
    for (const ext of this.slots.keys()) if (ext < lowest) lowest = ext;
    return lowest;
  }

  private dropOldest(): void {
    const lowest = this.lowestExt();
    this.slots.delete(lowest);
    if (this.nextExt >= 0 && this.nextExt <= lowest) this.nextExt = lowest + 1;
  }

  /** Bounds latency: if clock drift or a burst left far more than the target queued, skip ahead. */
  private trimExcess(): void {
    const excessFrames = Math.ceil((this.targetMs * 2 + 40) / ((this.ptimeSamples * 1000) / this.clockRate));
    while (this.highestExt - this.nextExt + 1 > excessFrames && this.slots.size > 0) {
      this.slots.delete(this.nextExt);
      this.nextExt++;
      this.stats.overflows++;
    }
  }

  private updateJitter(timestamp: number, arrivalMs: number): void {
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.lastTransit !== null) {
      let d = Math.abs(transit - this.lastTransit);
      // Ignore RTP timestamp wraps and talkspurt jumps; they are not network jitter.
      if (d > this.clockRate) d = 0;
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    const jitterMs = (this.jitter * 1000) / this.clockRate;
    this.stats.jitterMs = jitterMs;
    if (this.adaptive) {
      const ptimeMs = (this.ptimeSamples * 1000) / this.clockRate;
      const target = Math.ceil((4 * jitterMs) / ptimeMs + 1) * ptimeMs;
      this.targetMs = Math.min(this.maxDelayMs, Math.max(this.minDelayMs, target));
      this.stats.targetDelayMs = this.targetMs;
    }
  }
}
