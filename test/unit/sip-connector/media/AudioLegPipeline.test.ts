import { afterEach, describe, expect, it } from 'vitest';
import { AudioLegPipeline } from '../../../../sip-connector/media/AudioLegPipeline.js';
import type { DtmfEvent } from '../../../../sip-connector/media/DtmfDetector.js';
import { DtmfGenerator } from '../../../../sip-connector/media/DtmfGenerator.js';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { LegPipeline } from '../../../../sip-connector/media/LegPipeline.js';
import { MediaConfigError } from '../../../../sip-connector/media/MediaConfigError.js';
import { MixEngine } from '../../../../sip-connector/media/MixEngine.js';
import { OpusCodec } from '../../../../sip-connector/media/OpusCodec.js';
import { Rfc4733 } from '../../../../sip-connector/media/Rfc4733.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { SourcePipeline } from '../../../../sip-connector/media/SourcePipeline.js';
import { db, goertzel } from './support/goertzel.js';
import { ToneRtpSender } from './support/rtpStream.js';
import { concat } from './support/tone.js';

const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

describe('AudioLegPipeline', () => {
  it('prints the composition of a phone leg mixed at 48 kHz', () => {
    const source = new SourcePipeline({ sourceId: 'p', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    const leg = new LegPipeline({ legId: 'p', codec: 'PCMU', payloadType: 0, clockRate: 8000, mixRate: 48000 });
    expect(new AudioLegPipeline(source, leg).describe()).toBe('rtp(PCMU/8000) → jitter(60ms) → decode(PCMU) → '
      + 'resample(8000→48000) → mix-minus → resample(48000→8000) → encode(PCMU) → rtp(pt=0, ptime=20)');
  });

  it('omits resampling when the engine mixes phones at their own rate', () => {
    const engine = new MixEngine(() => {});
    closers.push(() => engine.close());
    engine.addSource({ sourceId: 'phone', codec: 'PCMA', payloadType: 8, clockRate: 8000 });
    engine.addSource({ sourceId: 'browser', codec: 'opus', payloadType: 111, clockRate: 48000 });
    engine.addLeg({ legId: 'phone', codec: 'PCMA', payloadType: 8, clockRate: 8000, ownSourceIds: ['phone'] });
    engine.addLeg({ legId: 'opus-phone', codec: 'opus', payloadType: 111, clockRate: 48000, ptimeMs: 40,
      ownSourceIds: ['browser'] });
    expect(engine.pipelineOf('phone').describe())
      .toBe('rtp(PCMA/8000) → jitter(60ms) → decode(PCMA) → mix-minus → encode(PCMA) → rtp(pt=8, ptime=20)');
    expect(engine.pipelineOf('opus-phone').stages())
      .toEqual(['rtp(opus/48000)', 'jitter(60ms)', 'decode(opus)', 'mix-minus', 'encode(opus)', 'rtp(pt=111, ptime=40)']);
  });

  it('rejects codecs, clocks and ptimes it cannot serve', () => {
    expect(() => new SourcePipeline({ sourceId: 's', codec: 'G729', payloadType: 18, clockRate: 8000 }))
      .toThrow(MediaConfigError);
    expect(() => new SourcePipeline({ sourceId: 's', codec: 'opus', payloadType: 111, clockRate: 8000 }))
      .toThrow(MediaConfigError);
    expect(() => new LegPipeline({ legId: 'l', codec: 'PCMU', payloadType: 0, clockRate: 8000, ptimeMs: 30,
      mixRate: 8000 })).toThrow(MediaConfigError);
  });
});

describe('MixEngine (in-process decode → mix-minus → encode)', () => {
  /** Runs `ticks` ticks feeding one packet per source per tick. */
  function runEngine(engine: MixEngine, senders: Record<string, ToneRtpSender>, ticks: number): void {
    for (let t = 0; t < ticks; t++) {
      for (const [id, s] of Object.entries(senders)) engine.receive(id, s.next(), t * 20);
      engine.tick(t * 20);
    }
  }

  it('mixes PCMU and Opus sources into PCMU and Opus legs, minus each leg’s own voice', () => {
    const out = new Map<string, Buffer[]>();
    const engine = new MixEngine((legId, d) => {
      const list = out.get(legId) ?? [];
      list.push(Buffer.from(d));
      out.set(legId, list);
    });
    const senders = {
      phoneA: new ToneRtpSender('PCMU', 0, 440),
      phoneB: new ToneRtpSender('PCMA', 8, 1000),
      browser: new ToneRtpSender('opus', 111, 1500),
    };
    closers.push(() => engine.close(), ...Object.values(senders).map((s) => () => s.close()));
    engine.addSource({ sourceId: 'phoneA', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    engine.addSource({ sourceId: 'phoneB', codec: 'PCMA', payloadType: 8, clockRate: 8000 });
    engine.addSource({ sourceId: 'browser', codec: 'opus', payloadType: 111, clockRate: 48000 });
    engine.addLeg({ legId: 'A', codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: ['phoneA'] });
    engine.addLeg({ legId: 'B', codec: 'PCMA', payloadType: 8, clockRate: 8000, ownSourceIds: ['phoneB'] });
    engine.addLeg({ legId: 'O', codec: 'opus', payloadType: 111, clockRate: 48000, ownSourceIds: ['browser'] });
    runEngine(engine, senders, 40);

    const decodeLeg = (leg: string, codec: G711Codec | OpusCodec, samples: number) => concat(out.get(leg)!.map((d) => {
      const pcm = new Int16Array(samples);
      codec.decode(RtpPacket.parse(d).payload, pcm);
      return pcm;
    }).slice(15));
    const a = decodeLeg('A', new G711Codec('PCMU'), 160);
    const b = decodeLeg('B', new G711Codec('PCMA'), 160);
    const opusDecoder = new OpusCodec();
    closers.push(() => opusDecoder.close());
    const o = decodeLeg('O', opusDecoder, 960);
    expect(db(goertzel(a, 8000, 440), 6000)).toBeLessThan(-40);
    expect(goertzel(a, 8000, 1000)).toBeGreaterThan(4500);
    expect(goertzel(a, 8000, 1500)).toBeGreaterThan(4000);
    expect(db(goertzel(b, 8000, 1000), 6000)).toBeLessThan(-40);
    expect(goertzel(b, 8000, 440)).toBeGreaterThan(4500);
    expect(db(goertzel(o, 48000, 1500), 6000)).toBeLessThan(-30);
    expect(goertzel(o, 48000, 440)).toBeGreaterThan(3500);
    expect(goertzel(o, 48000, 1000)).toBeGreaterThan(3500);
    expect(engine.stats()).toMatchObject({ ticks: 40, framesMixed: 120, buses: 2, legs: 3, sources: 3 });
  });

  it('reports DTMF seen on a source and sends DTMF to a leg in the leg’s sequence space', () => {
    const events: [string, DtmfEvent][] = [];
    const sent: Buffer[] = [];
    const engine = new MixEngine((_, d) => sent.push(Buffer.from(d)), (id, e) => events.push([id, e]));
    closers.push(() => engine.close());
    engine.addSource({ sourceId: 'p', codec: 'PCMU', payloadType: 0, clockRate: 8000, dtmfPayloadType: 101 });
    engine.addLeg({ legId: 'p', codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: ['p'],
      dtmfPayloadType: 101 });
    const packets = new DtmfGenerator({ clockRate: 8000 }).packets('#', 60, 777);
    packets.forEach((p, i) => engine.receive('p', RtpPacket.from({ payloadType: 101, sequenceNumber: i, timestamp: p.timestamp,
      ssrc: 9, marker: p.marker, payload: p.payload }).serialize(), i));
    expect(events.map(([id, e]) => `${id}:${e.type}:${e.digit}`)).toEqual(['p:start:#', 'p:end:#']);

    engine.tick(0);
    engine.sendDtmf('p', '4', 40);
    for (let t = 1; t <= 8; t++) engine.tick(t * 20);
    const parsed = sent.map((d) => RtpPacket.parse(d));
    expect(parsed.map((p) => p.payloadType)).toEqual([0, 101, 101, 101, 101, 0, 0, 0, 0]);
    for (let i = 1; i < parsed.length; i++) {
      expect(parsed[i].sequenceNumber).toBe((parsed[i - 1].sequenceNumber + 1) & 0xffff);
    }
    const dtmf = parsed.filter((p) => p.payloadType === 101);
    expect(new Set(dtmf.map((p) => p.timestamp)).size).toBe(1);
    expect(dtmf[0].timestamp).toBe((parsed[0].timestamp + 160) >>> 0);
    expect(dtmf.map((p) => Rfc4733.parse(p.payload).end)).toEqual([false, true, true, true]);
    expect(dtmf[0].marker).toBe(true);
    // Audio resumes where its clock would be had it never stopped, as a new talkspurt.
    expect(parsed[5].timestamp).toBe((parsed[0].timestamp + 5 * 160) >>> 0);
    expect(parsed[5].marker).toBe(true);
    expect(() => engine.sendDtmf('p', 'x')).toThrow(RangeError);
  });
});
