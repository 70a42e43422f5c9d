import { MediaConfigError } from './MediaConfigError.js';

const SUPPORTED_RATES = [8000, 16000, 24000, 32000, 48000];

/** Options for a Resampler. */
export interface ResamplerOptions {
  /** Filter length in periods of the lower rate; more gives a narrower transition band at more cost. */
  tapsPerPhase?: number;
  /** Kaiser window beta; 6 gives about 63 dB of stopband attenuation. */
  kaiserBeta?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency; below 1 so the transition band ends near Nyquist. */
  cutoff?: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Zeroth-order modified Bessel function of the first kind, by its power series (for the Kaiser window). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

/**
 * Streaming rational-ratio resampler (polyphase FIR). Up by L, low-pass at the lower of the two Nyquist
 * frequencies, down by M, done without materialising the zero-stuffed signal: each output sample is one
 * dot product of a polyphase branch with the recent input. The low-pass is a Kaiser-windowed sinc, which is
 * what keeps a 6 kHz tone at 48 kHz from folding to 2 kHz when going down to 8 kHz.
 *
 * Works on fixed-size frames of `inputFrame` samples (20 ms by default) and carries the filter history
 * between frames, so a stream resamples without seams. Mono only; the mixer runs mono.
 */
export class Resampler {
  readonly up: number;
  readonly down: number;
  readonly outputFrame: number;
  private readonly taps: number;
  /** phases[p] holds branch p's coefficients, reversed so the inner loop walks input forwards. */
  private readonly phases: Float64Array[];
  /** Per output sample of a frame: its branch and the index in `work` of its oldest input sample. */
  private readonly outPhase: Int32Array;
  private readonly outBase: Int32Array;
  /** History (taps-1 samples) followed by the current frame. */
  private readonly work: Float64Array;
  private readonly passthrough: boolean;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
    readonly inputFrame = inputRate / 50,
    options: ResamplerOptions = {},
  ) {
    if (!SUPPORTED_RATES.includes(inputRate) || !SUPPORTED_RATES.includes(outputRate)) {
      throw new MediaConfigError(`resampling ${inputRate}→${outputRate} is not supported`);
    }
    const g = gcd(inputRate, outputRate);
    this.up = outputRate / g;
    this.down = inputRate / g;
    if (!Number.isInteger(inputFrame) || inputFrame <= 0 || (inputFrame * this.up) % this.down !== 0) {
      throw new MediaConfigError(`frame of ${inputFrame} samples does not map to whole output samples`);
    }
    this.outputFrame = (inputFrame * this.up) / this.down;
    this.passthrough = inputRate === outputRate;
    const tapsPerPhase = options.tapsPerPhase ?? 32;
    const beta = options.kaiserBeta ?? 6;
    const cutoff = options.cutoff ?? 0.9;
    const L = this.up;
    const M = this.down;
    // The prototype filter runs at inputRate*L; its cutoff, normalised to that rate's Nyquist, is the lower
    // Nyquist frequency divided by the larger of L and M.
    // The filter must span tapsPerPhase periods of the lower rate; per output sample that is taps/L inputs.
    const branchTaps = Math.ceil((tapsPerPhase * Math.max(L, M)) / L);
    this.taps = branchTaps;
    const length = branchTaps * L;
    const fc = cutoff / Math.max(L, M);
    const centre = (length - 1) / 2;
    const i0Beta = besselI0(beta);
    const h = new Float64Array(length);
    for (let n = 0; n < length; n++) {
      const t = n - centre;
      const sinc = t === 0 ? fc : Math.sin(Math.PI * fc * t) / (Math.PI * t);
      const r = (2 * n) / (length - 1) - 1;
      h[n] = sinc * (besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta);
    }
    // Unity DC gain per branch: zero-stuffing divides the level by L, so each branch sums to 1.
    let sum = 0;
    for (let n = 0; n < length; n++) sum += h[n];
    for (let n = 0; n < length; n++) h[n] *= L / sum;
    this.phases = [];
    for (let p = 0; p < L; p++) {
      const branch = new Float64Array(branchTaps);
      // Branch p uses h[p + k*L] against x[i - k]; stored reversed to pair with x[i-taps+1 .. i].
      for (let k = 0; k < branchTaps; k++) branch[branchTaps - 1 - k] = h[p + k * L];
      this.phases.push(branch);
    }
    this.outPhase = new Int32Array(this.outputFrame);
    this.outBase = new Int32Array(this.outputFrame);
    for (let n = 0; n < this.outputFrame; n++) {
      const pos = n * M;
      const i = Math.floor(pos / L);
      this.outPhase[n] = pos - i * L;
      // Input i of the frame sits at work[taps-1+i]; the branch starts taps-1 samples earlier.
      this.outBase[n] = i;
    }
    this.work = new Float64Array(branchTaps - 1 + inputFrame);
  }

  /** Samples of delay the filter adds, in output samples. */
  get delay(): number {
    return this.passthrough ? 0 : (this.taps * this.up - 1) / 2 / this.down;
  }

  /** Resamples one frame of `inputFrame` samples into out (at least `outputFrame` long); returns outputFrame. */
  process(input: Int16Array, out: Int16Array): number {
    if (input.length < this.inputFrame || out.length < this.outputFrame) {
      throw new MediaConfigError(`resampler expects ${this.inputFrame} in, ${this.outputFrame} out`);
    }
    if (this.passthrough) {
      out.set(input.subarray(0, this.inputFrame));
      return this.outputFrame;
    }
    const taps = this.taps;
    const work = this.work;
    const history = taps - 1;
    for (let i = 0; i < this.inputFrame; i++) work[history + i] = input[i];
    const phases = this.phases;
    const outPhase = this.outPhase;
    const outBase = this.outBase;
    for (let n = 0; n < this.outputFrame; n++) {
      const branch = phases[outPhase[n]];
      const base = outBase[n];
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += branch[k] * work[base + k];
      const v = Math.round(acc);
      out[n] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    // Keep the newest taps-1 inputs as the next frame's history.
    work.copyWithin(0, this.inputFrame, this.inputFrame + history);
    return this.outputFrame;
  }

  /** Forgets the history, e.g. when a source restarts after silence. */
  reset(): void {
    this.work.fill(0);
  }
}
