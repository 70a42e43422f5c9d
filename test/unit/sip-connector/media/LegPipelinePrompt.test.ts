import { describe, expect, it } from 'vitest';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { LegPipeline } from '../../../../sip-connector/media/LegPipeline.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { db, goertzel } from './support/goertzel.js';
import { concat, tone } from './support/tone.js';

/** Runs `frames` 20 ms mix frames of a 440 Hz "room" through the leg and decodes what it sends. */
function run(leg: LegPipeline, frames: number, mixRate: number): Int16Array {
  const codec = new G711Codec('PCMU');
  const out: Int16Array[] = [];
  for (let i = 0; i < frames; i++) {
    const datagram = leg.process(tone(440, mixRate, mixRate / 50, 8000, i * (mixRate / 50)));
    if (!datagram) continue;
    const payload = RtpPacket.parse(datagram).payload;
    const pcm = new Int16Array(payload.length);
    codec.decode(payload, pcm);
    out.push(pcm);
  }
  return concat(out);
}

describe('LegPipeline prompts', () => {
  it('an isolated leg hears only its prompt, then silence; not the room', () => {
    const leg = new LegPipeline({ legId: 'pin', codec: 'PCMU', payloadType: 0, clockRate: 8000, mixRate: 8000 });
    leg.setIsolated(true);
    leg.playPrompt(tone(1000, 8000, 8000, 9000), 8000);
    const heard = run(leg, 50, 8000);
    expect(leg.playingPrompt).toBe(false);
    expect(db(goertzel(heard, 8000, 440), goertzel(heard, 8000, 1000))).toBeLessThan(-40);
    const after = run(leg, 10, 8000);
    expect(after.every((sample) => Math.abs(sample) < 16)).toBe(true);
    leg.close();
  });

  it('a prompt plays over the mix of an admitted leg, resampled from 8 kHz to a 48 kHz mix', () => {
    const leg = new LegPipeline({ legId: 'in', codec: 'PCMU', payloadType: 0, clockRate: 8000, mixRate: 48000 });
    leg.playPrompt(tone(1000, 8000, 4000, 9000), 8000);
    const heard = run(leg, 25, 48000);
    const room = goertzel(heard, 8000, 440);
    const prompt = goertzel(heard, 8000, 1000);
    expect(Math.abs(db(room, prompt))).toBeLessThan(6);
    leg.setIsolated(false);
    expect(leg.playingPrompt).toBe(false);
    leg.close();
  });
});
