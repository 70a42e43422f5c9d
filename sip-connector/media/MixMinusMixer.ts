import { MediaConfigError } from './MediaConfigError.js';

// Above this level the limiter bends the curve; below it samples pass untouched, so normal speech is bit-exact.
const KNEE = 24576;
const HEADROOM = 32767 - KNEE;

interface SourceSlot {
  frame: Int16Array;
  active: boolean;
}

interface LegSlot {
  own: string[];
  out: Int16Array;
}

/**
 * Mix-minus (N-1) mixer at one sample rate. Each tick, sources put a frame (or nothing, when silent); every
 * leg then gets the sum of all active sources except its own. The total is accumulated once in an Int32Array
 * and each leg subtracts only its own sources, so a tick costs O(N + M) frames rather than O(N × M).
 * Sums beyond int16 go through a soft limiter (tanh knee) instead of hard clipping, which would splatter.
 */
export class MixMinusMixer {
  private readonly sources = new Map<string, SourceSlot>();
  private readonly legs = new Map<string, LegSlot>();
  private readonly total: Int32Array;
  private readonly limiter: Int16Array;

  constructor(readonly sampleRate: number, readonly frameSamples = sampleRate / 50) {
    if (!Number.isInteger(frameSamples) || frameSamples <= 0) throw new MediaConfigError('bad frame size');
    this.total = new Int32Array(frameSamples);
    this.limiter = MixMinusMixer.buildLimiterCurve();
  }

  /** Registers a source; its frame buffer is allocated here, once. */
  addSource(sourceId: string): void {
    if (this.sources.has(sourceId)) throw new MediaConfigError(`source ${sourceId} already mixed`);
    this.sources.set(sourceId, { frame: new Int16Array(this.frameSamples), active: false });
  }

  /** Unregisters a source; legs that owned it keep working. */
  removeSource(sourceId: string): void {
    this.sources.delete(sourceId);
  }

  /** Registers a leg that must not hear `ownSourceIds` (its own voice). */
  addLeg(legId: string, ownSourceIds: readonly string[]): void {
    if (this.legs.has(legId)) throw new MediaConfigError(`leg ${legId} already mixed`);
    this.legs.set(legId, { own: [...ownSourceIds], out: new Int16Array(this.frameSamples) });
  }

  /** Unregisters a leg. */
  removeLeg(legId: string): void {
    this.legs.delete(legId);
  }

  /** Number of sources and legs, for stats. */
  get counts(): { sources: number; legs: number } {
    return { sources: this.sources.size, legs: this.legs.size };
  }

  /** The buffer a source writes its next frame into; call markActive after filling it. */
  sourceFrame(sourceId: string): Int16Array {
    const slot = this.sources.get(sourceId);
    if (!slot) throw new MediaConfigError(`unknown source ${sourceId}`);
    return slot.frame;
  }

  /** Sets whether a source contributes this tick (false: silent, skipped entirely). */
  setActive(sourceId: string, active: boolean): void {
    const slot = this.sources.get(sourceId);
    if (slot) slot.active = active;
  }

  /** Copies a frame in and marks the source active; convenience for tests and callers without a view. */
  putFrame(sourceId: string, frame: Int16Array): void {
    const slot = this.sources.get(sourceId);
    if (!slot) throw new MediaConfigError(`unknown source ${sourceId}`);
    slot.frame.set(frame.subarray(0, this.frameSamples));
    slot.active = true;
  }

  /** Sums all active sources; call once per tick before reading legs. Clears every source's active flag. */
  mix(): void {
    const total = this.total;
    const n = this.frameSamples;
    total.fill(0);
    for (const slot of this.sources.values()) {
      if (!slot.active) continue;
      const f = slot.frame;
      for (let i = 0; i < n; i++) total[i] += f[i];
    }
  }

  /** Ends a tick: every source must provide a fresh frame next time. */
  endTick(): void {
    for (const slot of this.sources.values()) slot.active = false;
  }

  /** Computes a leg's mix-minus into its preallocated output frame and returns it (valid until the next call). */
  legOutput(legId: string): Int16Array {
    const leg = this.legs.get(legId);
    if (!leg) throw new MediaConfigError(`unknown leg ${legId}`);
    const out = leg.out;
    const total = this.total;
    const n = this.frameSamples;
    const limiter = this.limiter;
    let own0: Int16Array | null = null;
    let extra = false;
    for (const id of leg.own) {
      const slot = this.sources.get(id);
      if (!slot || !slot.active) continue;
      if (own0 === null) own0 = slot.frame;
      else extra = true;
    }
    if (own0 === null) {
      for (let i = 0; i < n; i++) out[i] = MixMinusMixer.limit(total[i], limiter);
      return out;
    }
    if (!extra) {
      for (let i = 0; i < n; i++) out[i] = MixMinusMixer.limit(total[i] - own0[i], limiter);
      return out;
    }
    // Several own sources (e.g. a phone that re-INVITEd onto a new stream): subtract them all.
    for (let i = 0; i < n; i++) {
      let v = total[i];
      for (const id of leg.own) {
        const slot = this.sources.get(id);
        if (slot && slot.active) v -= slot.frame[i];
      }
      out[i] = MixMinusMixer.limit(v, limiter);
    }
    return out;
  }

  /** Leg ids currently mixed. */
  legIds(): IterableIterator<string> {
    return this.legs.keys();
  }

  /** Soft limit of an int32 sum to int16: identity up to the knee, then a tanh curve towards full scale. */
  static limit(v: number, curve: Int16Array): number {
    if (v <= KNEE && v >= -KNEE) return v;
    const over = (v < 0 ? -v : v) - KNEE;
    // The curve is tabulated in steps of 4 over the range where tanh has not yet saturated at int16 resolution.
    const index = over >> 2;
    const mag = index < curve.length ? curve[index] : 32767;
    return v < 0 ? -mag : mag;
  }

  private static buildLimiterCurve(): Int16Array {
    // tanh(x) reaches 32767/32768-of-headroom precision well before x = 6.
    const points = Math.ceil((HEADROOM * 6) / 4);
    const curve = new Int16Array(points);
    for (let i = 0; i < points; i++) {
      curve[i] = Math.min(32767, Math.round(KNEE + HEADROOM * Math.tanh((i * 4) / HEADROOM)));
    }
    return curve;
  }
}
