import { describe, expect, it } from 'vitest';
import { MixMinusMixer } from '../../../../sip-connector/media/MixMinusMixer.js';
import { db, goertzel } from './support/goertzel.js';
import { concat, tone } from './support/tone.js';

const RATE = 48000;
const FRAME = 960;

function run(mixer: MixMinusMixer, sources: Record<string, number>, legs: string[], frames: number) {
  const out: Record<string, Int16Array[]> = Object.fromEntries(legs.map((l) => [l, []]));
  for (let f = 0; f < frames; f++) {
    for (const [id, freq] of Object.entries(sources)) mixer.putFrame(id, tone(freq, RATE, FRAME, 6000, f * FRAME));
    mixer.mix();
    for (const leg of legs) out[leg].push(Int16Array.from(mixer.legOutput(leg)));
    mixer.endTick();
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, concat(v)]));
}

describe('MixMinusMixer', () => {
  it('gives each leg every source except its own (three tones, Goertzel per leg)', () => {
    const mixer = new MixMinusMixer(RATE);
    for (const id of ['s440', 's1000', 's1500']) mixer.addSource(id);
    mixer.addLeg('A', ['s440']);
    mixer.addLeg('B', ['s1000']);
    mixer.addLeg('listener', []);
    const out = run(mixer, { s440: 440, s1000: 1000, s1500: 1500 }, ['A', 'B', 'listener'], 10);
    const level = (leg: string, f: number) => goertzel(out[leg], RATE, f);
    expect(level('A', 1000)).toBeGreaterThan(5500);
    expect(level('A', 1500)).toBeGreaterThan(5500);
    expect(db(level('A', 440), 6000)).toBeLessThan(-60);
    expect(level('B', 440)).toBeGreaterThan(5500);
    expect(db(level('B', 1000), 6000)).toBeLessThan(-60);
    for (const f of [440, 1000, 1500]) expect(level('listener', f)).toBeGreaterThan(5500);
  });

  it('subtracts several own sources and ignores silent ones', () => {
    const mixer = new MixMinusMixer(RATE);
    for (const id of ['a', 'b', 'c']) mixer.addSource(id);
    mixer.addLeg('L', ['a', 'b']);
    const out = run(mixer, { a: 440, b: 1000, c: 1500 }, ['L'], 5);
    expect(db(goertzel(out.L, RATE, 440), 6000)).toBeLessThan(-60);
    expect(db(goertzel(out.L, RATE, 1000), 6000)).toBeLessThan(-60);
    expect(goertzel(out.L, RATE, 1500)).toBeGreaterThan(5500);
    // Only c active this tick: its own-source subtraction must not subtract stale frames of a and b.
    mixer.putFrame('c', tone(1500, RATE, FRAME, 6000));
    mixer.mix();
    expect(Array.from(mixer.legOutput('L'))).toEqual(Array.from(tone(1500, RATE, FRAME, 6000)));
    mixer.endTick();
    mixer.mix();
    expect(mixer.legOutput('L').every((v) => v === 0)).toBe(true);
  });

  it('is exact below the limiter knee and soft-limits sums beyond int16 without wrapping', () => {
    const mixer = new MixMinusMixer(8000, 4);
    for (const id of ['a', 'b', 'c']) mixer.addSource(id);
    mixer.addLeg('L', []);
    mixer.putFrame('a', Int16Array.of(1000, 30000, -30000, 24000));
    mixer.putFrame('b', Int16Array.of(-3, 30000, -30000, 0));
    mixer.putFrame('c', Int16Array.of(7, 30000, -30000, 576));
    mixer.mix();
    const out = mixer.legOutput('L');
    expect(out[0]).toBe(1004);
    expect(out[1]).toBeGreaterThan(32000);
    expect(out[1]).toBeLessThanOrEqual(32767);
    expect(out[2]).toBeLessThan(-32000);
    expect(out[3]).toBe(24576);
    // Monotonic: a louder sum is never quieter after limiting.
    let previous = -1;
    for (let v = 24000; v < 120000; v += 500) {
      const y = MixMinusMixer.limit(v, (mixer as unknown as { limiter: Int16Array }).limiter);
      expect(y).toBeGreaterThanOrEqual(previous);
      previous = y;
    }
  });

  it('costs O(N + M): a leg only touches its own sources, not every source', () => {
    // With 200 sources, computing 200 legs must cost about what 200 legs over 2 sources cost.
    const time = (sources: number) => {
      const mixer = new MixMinusMixer(8000);
      for (let s = 0; s < sources; s++) mixer.addSource(`s${s}`);
      for (let l = 0; l < 200; l++) mixer.addLeg(`l${l}`, [`s${l % sources}`]);
      for (let s = 0; s < sources; s++) mixer.setActive(`s${s}`, true);
      mixer.mix();
      const start = performance.now();
      for (let rep = 0; rep < 20; rep++) for (let l = 0; l < 200; l++) mixer.legOutput(`l${l}`);
      return performance.now() - start;
    };
    time(2);
    const few = Math.min(time(2), time(2));
    const many = Math.min(time(200), time(200));
    expect(many).toBeLessThan(few * 4 + 5);
  });
});
