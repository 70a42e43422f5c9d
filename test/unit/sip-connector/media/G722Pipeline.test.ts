import { afterEach, describe, expect, it } from 'vitest';
import { AudioLegPipeline } from '../../../../sip-connector/media/AudioLegPipeline.js';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { G722Codec } from '../../../../sip-connector/media/G722Codec.js';
import { LegPipeline } from '../../../../sip-connector/media/LegPipeline.js';
import { MediaConfigError } from '../../../../sip-connector/media/MediaConfigError.js';
import { MixEngine } from '../../../../sip-connector/media/MixEngine.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { SourcePipeline } from '../../../../sip-connector/media/SourcePipeline.js';
import { db, goertzel } from './support/goertzel.js';
import { ToneRtpSender } from './support/rtpStream.js';
import { concat, tone } from './support/tone.js';

const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/** 20 ms G.722 packets of a tone: 320 samples in 160 octets, timestamps 160 apart on the 8 kHz RTP clock. */
function g722Packets(frequency: number, count: number, amplitude = 6000): Buffer[] {
  const codec = new G722Codec();
  const payload = new Uint8Array(160);
  return Array.from({ length: count }, (_, f) => {
    codec.encode(tone(frequency, 16000, 320, amplitude, f * 320), 320, payload);
    return RtpPacket.from({ payloadType: 9, sequenceNumber: 100 + f, timestamp: 7000 + f * 160, ssrc: 0x722, marker: f === 0,
      payload }).serialize();
  });
}

describe('G.722 in the mixer pipelines', () => {
  it('takes only the 8000 Hz RTP clock and mixes a G.722 leg at 16 kHz', () => {
    expect(() => new SourcePipeline({ sourceId: 's', codec: 'G722', payloadType: 9, clockRate: 16000 })).toThrow(MediaConfigError);
    expect(() => new LegPipeline({ legId: 'l', codec: 'G722', payloadType: 9, clockRate: 16000, mixRate: 16000 })).toThrow(MediaConfigError);
    const source = new SourcePipeline({ sourceId: 'p', codec: 'g722', payloadType: 9, clockRate: 8000 });
    const leg = new LegPipeline({ legId: 'p', codec: 'G722', payloadType: 9, clockRate: 8000, mixRate: 16000 });
    closers.push(() => source.close(), () => leg.close());
    expect(new AudioLegPipeline(source, leg).describe()).toBe('rtp(G722/8000) → jitter(60ms) → decode(G722) → mix-minus → '
      + 'encode(G722) → rtp(pt=9, ptime=20)');
    expect(source.frameSamples).toBe(320);
  });

  it('sends 160-octet packets whose timestamps advance 160 per 20 ms (320 per 40 ms)', () => {
    for (const ptimeMs of [20, 40]) {
      const leg = new LegPipeline({ legId: 'l', codec: 'G722', payloadType: 9, clockRate: 8000, mixRate: 16000, ptimeMs,
        initialTimestamp: 1000, initialSequence: 1 });
      closers.push(() => leg.close());
      const sent: RtpPacket[] = [];
      for (let f = 0; f < 8; f++) {
        const datagram = leg.process(tone(1000, 16000, 320, 8000, f * 320));
        if (datagram) sent.push(RtpPacket.parse(datagram));
      }
      expect(sent.length).toBe(160 / ptimeMs);
      expect(sent.map((p) => p.payload.length)).toEqual(sent.map(() => (ptimeMs / 20) * 160));
      expect(sent.map((p) => p.timestamp)).toEqual(sent.map((_, i) => 1000 + i * ptimeMs * 8));
      expect(sent.every((p) => p.payloadType === 9)).toBe(true);
      const decoded = concat(sent.map((p) => {
        const pcm = new Int16Array(p.payload.length * 2);
        new G722Codec().decode(p.payload, pcm);
        return pcm;
      }));
      expect(decoded.length).toBe(8 * 320);
    }
  });

  it('decodes G.722 RTP into 20 ms frames of 320 samples and conceals a lost packet by its 160-tick gap', () => {
    const source = new SourcePipeline({ sourceId: 's', codec: 'G722', payloadType: 9, clockRate: 8000, jitterTargetMs: 20 });
    closers.push(() => source.close());
    const packets = g722Packets(1000, 30);
    const frames: Int16Array[] = [];
    packets.forEach((p, i) => {
      if (i !== 20) source.receive(p, i * 20);
      if (source.pull()) frames.push(source.frame.slice());
    });
    // Every tick yields a frame: the 160-tick gap became 320 samples of concealment, not a stall or a skip.
    expect(frames.length).toBe(30);
    expect(source.stats.concealedFrames).toBeGreaterThan(0);
    expect(source.stats.decodeErrors).toBe(0);
    expect(goertzel(concat(frames.slice(2, 15)), 16000, 1000)).toBeGreaterThan(5000);
    expect(goertzel(concat(frames.slice(24)), 16000, 1000)).toBeGreaterThan(5000);
  });

  it('mixes a G.722 phone and a PCMU phone: each hears the other, the G.722 leg keeps 6 kHz wideband audio', () => {
    const out = new Map<string, Buffer[]>();
    const engine = new MixEngine((legId, d) => out.set(legId, [...(out.get(legId) ?? []), Buffer.from(d)]));
    const pcmu = new ToneRtpSender('PCMU', 0, 700);
    closers.push(() => engine.close(), () => pcmu.close());
    engine.addSource({ sourceId: 'wide', codec: 'G722', payloadType: 9, clockRate: 8000 });
    engine.addSource({ sourceId: 'narrow', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    engine.addSource({ sourceId: 'wide2', codec: 'G722', payloadType: 9, clockRate: 8000 });
    engine.addLeg({ legId: 'wide', codec: 'G722', payloadType: 9, clockRate: 8000, ownSourceIds: ['wide'] });
    engine.addLeg({ legId: 'narrow', codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: ['narrow'] });
    const wide = g722Packets(1000, 40);
    const wide2 = g722Packets(6000, 40);
    for (let t = 0; t < 40; t++) {
      engine.receive('wide', wide[t]!, t * 20);
      engine.receive('wide2', wide2[t]!, t * 20);
      engine.receive('narrow', pcmu.next(), t * 20);
      engine.tick(t * 20);
    }
    expect(engine.pipelineOf('wide').stages()).not.toContain('resample(16000→8000)');
    const g722 = new G722Codec();
    const wideHeard = concat(out.get('wide')!.slice(15).map((d) => {
      const pcm = new Int16Array(320);
      expect(g722.decode(RtpPacket.parse(d).payload, pcm)).toBe(320);
      return pcm;
    }));
    const narrowCodec = new G711Codec('PCMU');
    const narrowHeard = concat(out.get('narrow')!.slice(15).map((d) => {
      const pcm = new Int16Array(160);
      narrowCodec.decode(RtpPacket.parse(d).payload, pcm);
      return pcm;
    }));
    expect(goertzel(wideHeard, 16000, 700)).toBeGreaterThan(4500);
    expect(goertzel(wideHeard, 16000, 6000)).toBeGreaterThan(4500);
    expect(db(goertzel(wideHeard, 16000, 1000), 6000)).toBeLessThan(-30);
    expect(goertzel(narrowHeard, 8000, 1000)).toBeGreaterThan(4500);
    expect(db(goertzel(narrowHeard, 8000, 700), 6000)).toBeLessThan(-30);
  });
});
