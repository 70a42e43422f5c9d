import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { DtmfEvent } from '../../../../sip-connector/media/DtmfDetector.js';
import { DtmfGenerator } from '../../../../sip-connector/media/DtmfGenerator.js';
import { G711Codec } from '../../../../sip-connector/media/G711Codec.js';
import { MixerThread } from '../../../../sip-connector/media/MixerThread.js';
import { MixerThreadError } from '../../../../sip-connector/media/MixerThreadError.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { db, goertzel } from '../../../unit/sip-connector/media/support/goertzel.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';
import { concat } from '../../../unit/sip-connector/media/support/tone.js';
import { ownSocketDescriptors } from '../../../support/processSockets.js';

const HOST = '127.0.0.1';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function receiver(): Promise<{ port: number; packets: { at: number; data: Buffer }[] }> {
  const socket = dgram.createSocket('udp4');
  const packets: { at: number; data: Buffer }[] = [];
  socket.on('message', (data) => packets.push({ at: performance.now(), data }));
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, packets };
}

async function sender(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

async function startMixer(): Promise<MixerThread> {
  const mixer = await MixerThread.start();
  cleanups.push(() => mixer.close());
  return mixer;
}

describe('MixerThread over real UDP', () => {
  it('mixes PCMU and Opus sources into a paced, continuous PCMU mix-minus stream', async () => {
    const mixer = await startMixer();
    const phone = new ToneRtpSender('PCMU', 0, 440);
    const browser = new ToneRtpSender('opus', 111, 1000);
    const other = new ToneRtpSender('PCMU', 0, 1500);
    cleanups.push(() => phone.close(), () => browser.close(), () => other.close());
    const phonePort = await mixer.addSource({ sourceId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    const browserPort = await mixer.addSource({ sourceId: 'browser', codec: 'opus', payloadType: 111, clockRate: 48000,
      channels: 2 });
    const otherPort = await mixer.addSource({ sourceId: 'other', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    const rx = await receiver();
    await mixer.addLeg({ legId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000, ptime: 20,
      ownSourceIds: ['phone'], destination: { ip: HOST, port: rx.port } });
    expect(await mixer.describeLeg('phone'))
      .toBe('rtp(PCMU/8000) → jitter(60ms) → decode(PCMU) → mix-minus → encode(PCMU) → rtp(pt=0, ptime=20)');

    const tx = await sender();
    const start = performance.now();
    for (let i = 0; i < 75; i++) {
      // Absolute schedule so the senders themselves do not drift.
      const wait = start + i * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      tx.send(phone.next(), phonePort, HOST);
      tx.send(browser.next(), browserPort, HOST);
      tx.send(other.next(), otherPort, HOST);
    }
    await sleep(150);

    const packets = rx.packets.map((p) => ({ at: p.at, rtp: RtpPacket.parse(p.data) }));
    expect(packets.length).toBeGreaterThan(70);
    // Continuity: one SSRC, seq +1 and timestamp +160 on every packet, marker only on the first.
    const first = packets[0].rtp;
    expect(first.marker).toBe(true);
    for (let i = 1; i < packets.length; i++) {
      const prev = packets[i - 1].rtp;
      const cur = packets[i].rtp;
      expect(cur.ssrc).toBe(first.ssrc);
      expect(cur.sequenceNumber).toBe((prev.sequenceNumber + 1) & 0xffff);
      expect(cur.timestamp).toBe((prev.timestamp + 160) >>> 0);
      expect(cur.marker).toBe(false);
      expect(cur.payload.length).toBe(160);
    }
    // Pacing: steady 20 ms, no bursts, and no drift over the run.
    const gaps = packets.slice(1).map((p, i) => p.at - packets[i].at);
    const sorted = [...gaps].sort((x, y) => x - y);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThan(18);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(22);
    expect(gaps.filter((g) => g < 10).length).toBeLessThanOrEqual(2);
    const span = packets[packets.length - 1].at - packets[0].at;
    expect(Math.abs(span / (packets.length - 1) - 20)).toBeLessThan(0.5);

    // Audio: the mix holds the other two and not the phone's own 440 Hz.
    const codec = new G711Codec('PCMU');
    const pcm = concat(packets.map((p) => {
      const out = new Int16Array(160);
      codec.decode(p.rtp.payload, out);
      return out;
    }));
    // Skip the start (jitter buffer fill) and analyse the stretch where all sources were playing.
    const audio = pcm.subarray(160 * 10, 160 * 60);
    expect(goertzel(audio, 8000, 1000)).toBeGreaterThan(4000);
    expect(goertzel(audio, 8000, 1500)).toBeGreaterThan(4000);
    expect(db(goertzel(audio, 8000, 440), 6000)).toBeLessThan(-35);

    const stats = await mixer.stats();
    expect(stats.packetsIn).toBe(225);
    expect(stats.framesMixed).toBeGreaterThan(70);
    expect(stats.skippedTicks).toBe(0);
    // A tick or two may start late when the runner's cores are busy with other tests (the pacing above is
    // what the phone hears); more would mean the clock itself falls behind.
    expect(stats.lateTicks).toBeLessThanOrEqual(3);
    expect(stats.maxTickLatenessMs).toBeLessThan(60);
  });

  it('binds phone-facing sockets inside the configured port range, and says so when the range is full', async () => {
    const mixer = await MixerThread.start({ portRange: { min: 46100, max: 46103 } });
    cleanups.push(() => mixer.close());
    const blocker = await new Promise<dgram.Socket>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.bind(46101, HOST, () => resolve(socket));
    });
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const descriptors = ownSocketDescriptors();
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      ports.push(await mixer.addSource({ sourceId: `p${i}`, codec: 'PCMU', payloadType: 0, clockRate: 8000, bindAddress: HOST }));
    }
    expect(ports.sort()).toEqual([46100, 46102, 46103]);
    await expect(mixer.addSource({ sourceId: 'p3', codec: 'PCMU', payloadType: 0, clockRate: 8000, bindAddress: HOST }))
      .rejects.toThrow(/no free UDP port in 46100-46103/);
    // Only the three bound sockets stay: each failed bind (the taken port, then the full range) gave its descriptor back.
    expect(ownSocketDescriptors() - descriptors).toBe(3);
    // Sources fed from mediasoup over loopback are not phone-facing: any port.
    expect(await mixer.addSource({ sourceId: 'feed', codec: 'PCMU', payloadType: 0, clockRate: 8000 })).not.toBe(0);
  });

  it('reports DTMF from a source as events', async () => {
    const mixer = await startMixer();
    const events: [string, DtmfEvent][] = [];
    mixer.on('dtmf', (id, e) => events.push([id, e]));
    const port = await mixer.addSource({ sourceId: 'p', codec: 'PCMA', payloadType: 8, clockRate: 8000,
      dtmfPayloadType: 101 });
    const tx = await sender();
    const packets = new DtmfGenerator({ clockRate: 8000 }).packets('9', 80, 4242);
    for (const [i, p] of packets.entries()) {
      tx.send(RtpPacket.from({ payloadType: 101, sequenceNumber: i, timestamp: p.timestamp, ssrc: 3, marker: p.marker,
        payload: p.payload }).serialize(), port, HOST);
      await sleep(5);
    }
    const deadline = performance.now() + 2000;
    while (events.length < 2 && performance.now() < deadline) await sleep(10);
    expect(events.map(([id, e]) => `${id}:${e.type}:${e.digit}:${e.durationMs ?? ''}`)).toEqual(['p:start:9:', 'p:end:9:80']);
  });

  it('relays an unmixed source to a relay leg as it is, sends the leg DTMF in between, and reports the phone\'s keys', async () => {
    const mixer = await startMixer();
    const events: string[] = [];
    mixer.on('dtmf', (id, e) => events.push(`${id}:${e.type}:${e.digit}`));
    // The browser's audio as a mediasoup consumer sends it (its own payload type) and a phone with telephone-event.
    const feedPort = await mixer.addSource({ sourceId: 'room:browser', codec: 'PCMU', payloadType: 100, clockRate: 8000, mixed: false });
    const phonePort = await mixer.addSource({ sourceId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000, dtmfPayloadType: 101,
      mixed: false });
    const rx = await receiver();
    await mixer.addLeg({ legId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000, ptime: 20, ownSourceIds: ['phone'],
      destination: { ip: HOST, port: rx.port }, dtmfPayloadType: 101, relayFrom: null });
    await expect(mixer.setRelaySource('phone', 'nobody')).rejects.toThrow(/not an unmixed source/);
    await expect(mixer.playPrompt('phone', new Int16Array(160), 8000)).rejects.toThrow(/relays untranscoded/);
    const tx = await sender();
    const send = (i: number) => tx.send(RtpPacket.from({ payloadType: 100, sequenceNumber: 1000 + i, timestamp: i * 160, ssrc: 9,
      marker: false, payload: new Uint8Array(160).fill(i & 0xff) }).serialize(), feedPort, HOST);
    // Nothing reaches the phone before the leg has its source.
    for (let i = 0; i < 5; i++) send(i);
    await sleep(100);
    expect(rx.packets).toHaveLength(0);
    await mixer.setRelaySource('phone', 'room:browser');
    expect(await mixer.describeLeg('phone')).toBe('relay(room:browser) → rtp(PCMU, pt=0, untranscoded + dtmf(pt=101))');
    for (let i = 5; i < 40; i++) {
      send(i);
      if (i === 15) await mixer.sendDtmf('phone', '4', 100);
      await sleep(20);
    }
    await sleep(100);
    const got = rx.packets.map(({ data }) => RtpPacket.parse(data));
    const audio = got.filter((p) => p.payloadType === 0);
    const dtmf = got.filter((p) => p.payloadType === 101);
    expect(audio.length).toBeGreaterThan(20);
    // Payloads as they were sent, in order: the relay decodes nothing.
    expect(audio.slice(0, 5).map((p) => p.payload[0])).toEqual([5, 6, 7, 8, 9]);
    expect(dtmf.length).toBe(7);
    expect(new Set(got.map((p) => p.ssrc)).size).toBe(1);
    for (let i = 1; i < got.length; i++) expect(got[i]!.sequenceNumber).toBe((got[i - 1]!.sequenceNumber + 1) & 0xffff);
    expect((await mixer.stats()).relayedPackets).toBe(got.length);

    // The phone's own keys are read on its unmixed source.
    for (const [i, p] of new DtmfGenerator({ clockRate: 8000 }).packets('8', 60, 777).entries()) {
      tx.send(RtpPacket.from({ payloadType: 101, sequenceNumber: i, timestamp: p.timestamp, ssrc: 3, marker: p.marker,
        payload: p.payload }).serialize(), phonePort, HOST);
      await sleep(5);
    }
    const deadline = performance.now() + 2000;
    while (events.length < 2 && performance.now() < deadline) await sleep(10);
    expect(events).toEqual(['phone:start:8', 'phone:end:8']);
    // Removing the source leaves the leg without one: it sends nothing more.
    await mixer.removeSource('room:browser');
    expect(await mixer.describeLeg('phone')).toMatch(/^relay\(none\)/);
  });

  it('removes legs and sources, rejects bad requests, and fails requests after close', async () => {
    const mixer = await startMixer();
    const rx = await receiver();
    await mixer.addSource({ sourceId: 's', codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    await mixer.addLeg({ legId: 'l', codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: ['s'],
      destination: { ip: HOST, port: rx.port } });
    await expect(mixer.addSource({ sourceId: 'x', codec: 'G729', payloadType: 18, clockRate: 8000 }))
      .rejects.toMatchObject({ name: 'MixerThreadError', remoteName: 'MediaConfigError' });
    await sleep(100);
    expect(rx.packets.length).toBeGreaterThan(2);
    expect(await mixer.removeLeg('l')).toBe(true);
    expect(await mixer.removeSource('s')).toBe(true);
    await sleep(40);
    const count = rx.packets.length;
    await sleep(100);
    expect(rx.packets.length).toBe(count);
    await mixer.close();
    await expect(mixer.stats()).rejects.toBeInstanceOf(MixerThreadError);
  });
});
