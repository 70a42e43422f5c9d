import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negotiateOffer } from '../../../../sip-connector/calls/PhoneSdp.js';
import { PromptLibrary } from '../../../../sip-connector/calls/PromptLibrary.js';
import { RoomAudioBridge } from '../../../../sip-connector/calls/RoomAudioBridge.js';
import { DtmfGenerator } from '../../../../sip-connector/media/DtmfGenerator.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { RoomRegistry } from '../../../../server/rooms/RoomRegistry.js';
import type { Room } from '../../../../server/rooms/Room.js';
import { WorkerPool } from '../../../../server/workers/WorkerPool.js';
import { db, goertzel } from '../../../unit/sip-connector/media/support/goertzel.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';
import { UdpPhone } from '../../../support/UdpPhone.js';
import { rms, tone } from '../../../unit/sip-connector/media/support/tone.js';

const HOST = '127.0.0.1';

let pool: WorkerPool;
let rooms: RoomRegistry;
const closers: Array<() => void> = [];

beforeAll(async () => {
  pool = await WorkerPool.start({ numWorkers: 1, logLevel: 'error' });
  rooms = new RoomRegistry(pool, { emptyTimeoutSeconds: 60, maxParticipants: 10 });
});
afterAll(() => {
  for (const close of closers.reverse()) close();
  rooms?.closeAll();
  pool?.close();
});

/** A room whose bridge is closed at the end of the file. */
async function openRoom(name: string): Promise<Room> {
  const { room } = await rooms.getOrCreate(name);
  return room;
}

describe('RoomAudioBridge: phones and a room producer through mediasoup and the mixer thread', () => {
  let room: Room;
  let bridge: RoomAudioBridge;

  beforeAll(async () => {
    room = await openRoom('bridge');
  });
  afterAll(() => bridge?.close());

  it('gives each phone the mix of everyone else, relays each phone into a producer, and reports DTMF', async () => {
    // A "browser": an Opus producer in the room, fed over a comedia PlainTransport at 440 Hz.
    const browser = room.join({ identity: 'browser', displayName: 'Browser', kind: 'webrtc' });
    const browserTransport = await room.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: HOST }, rtcpMux: true, comedia: true });
    browser.adoptTransport(browserTransport);
    const browserTone = new ToneRtpSender('opus', 100, 440, 6000, 4242);
    await browser.produce(browserTransport.id, 'audio', {
      codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }],
    }, 'mic');
    const browserSocket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => browserSocket.bind(0, HOST, resolve));
    closers.push(() => browserSocket.close(), () => browserTone.close());

    bridge = await RoomAudioBridge.create(room, HOST);
    const digits: string[] = [];
    bridge.on('dtmf', (legId, digit) => digits.push(`${legId}:${digit}`));

    const phones = { a: await UdpPhone.open(1000), b: await UdpPhone.open(1500) };
    closers.push(() => phones.a.close(), () => phones.b.close());
    const ports: Record<string, number> = {};
    const producers: Record<string, Awaited<ReturnType<RoomAudioBridge['admit']>>> = {};
    for (const [name, phone] of Object.entries(phones)) {
      const negotiated = negotiateOffer(phone.offer(), ['PCMU']);
      ports[name] = await bridge.openPhone(`leg-${name}`, negotiated);
      const participant = room.join({ identity: `phone-${name}`, displayName: `Phone ${name}`, kind: 'sip' });
      producers[name] = await bridge.admit(`leg-${name}`, participant);
    }
    expect(await bridge.describeLeg('leg-a')).toMatch(/decode\(PCMU\).*mix-minus.*encode\(PCMU\).*rtp\(pt=0, ptime=20\)/);

    const stopAt = Date.now() + 2500;
    while (Date.now() < stopAt) {
      browserSocket.send(browserTone.next(), browserTransport.tuple.localPort, HOST);
      phones.a.socket.send(phones.a.sender.next(), ports.a!, HOST);
      phones.b.socket.send(phones.b.sender.next(), ports.b!, HOST);
      await sleep(20);
    }
    await sleep(200);

    for (const [name, own, others] of [['a', 1000, [440, 1500]], ['b', 1500, [440, 1000]]] as const) {
      const audio = phones[name].heard();
      expect(audio.length, `phone ${name} received audio`).toBeGreaterThan(8000);
      const ownLevel = goertzel(audio, 8000, own);
      for (const hz of others) {
        const level = goertzel(audio, 8000, hz);
        expect(db(ownLevel, level), `phone ${name}: own ${own} Hz vs ${hz} Hz`).toBeLessThan(-30);
      }
    }
    // Each phone's audio went into mediasoup untranscoded, as a PCMU producer browsers can consume.
    for (const name of ['a', 'b'] as const) {
      const producer = producers[name]!;
      expect(producer.rtpParameters.codecs[0]!.mimeType).toBe('audio/PCMU');
      const stats = await producer.getStats();
      expect(stats[0]?.packetCount ?? 0, `producer of phone ${name}`).toBeGreaterThan(50);
      expect(room.router.canConsume({ producerId: producer.id, rtpCapabilities: room.router.rtpCapabilities })).toBe(true);
    }

    // A key press on phone a, as RFC 4733 events on its RTP stream.
    const events = new DtmfGenerator({ clockRate: 8000 }).packets('7', 100, 900_000);
    for (const [i, event] of events.entries()) {
      phones.a.socket.send(RtpPacket.from({ payloadType: 101, sequenceNumber: 5000 + i, timestamp: event.timestamp,
        ssrc: phones.a.sender.ssrc, marker: event.marker, payload: event.payload }).serialize(), ports.a!, HOST);
      await sleep(5);
    }
    await expect.poll(() => digits, { timeout: 2000 }).toEqual(['leg-a:7']);

    const activity = await bridge.activity();
    expect(activity.get('leg-a')).toMatchObject({ remote: { ip: HOST, port: phones.a.port } });
    expect(activity.get('leg-a')!.packets).toBeGreaterThan(100);

    expect(await bridge.closePhone('leg-a')).toBe(1);
    expect(await bridge.closePhone('leg-b')).toBe(0);
    expect(producers.a!.closed).toBe(true);
  });
});

describe('RoomAudioBridge prompts: a caller waiting for admission hears prompts, not the room', () => {
  let room: Room;
  let bridge: RoomAudioBridge;

  beforeAll(async () => {
    room = await openRoom('prompts');
  });
  afterAll(() => bridge?.close());

  it('plays the prompt to the isolated caller, then lets the room through once admitted', async () => {
    // The room: one producer at 440 Hz.
    const speaker = room.join({ identity: 'speaker', displayName: 'Speaker', kind: 'webrtc' });
    const transport = await room.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: HOST }, rtcpMux: true, comedia: true });
    speaker.adoptTransport(transport);
    await speaker.produce(transport.id, 'audio', {
      codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 99 }],
    }, 'mic');
    const speakerTone = new ToneRtpSender('opus', 100, 440, 6000, 99);
    const speakerSocket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => speakerSocket.bind(0, HOST, resolve));
    closers.push(() => speakerSocket.close(), () => speakerTone.close());
    bridge = await RoomAudioBridge.create(room, HOST);

    const caller = await UdpPhone.open(1000);
    closers.push(() => caller.close());
    const port = await bridge.openPhone('caller', negotiateOffer(caller.offer(), ['PCMU']));
    await bridge.playPrompt('caller', tone(700, 8000, 8000, 9000));
    const speak = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        speakerSocket.send(speakerTone.next(), transport.tuple.localPort, HOST);
        caller.socket.send(caller.sender.next(), port, HOST);
        await sleep(20);
      }
    };
    await speak(1400);
    const waiting = caller.heard(5);
    expect(waiting.length).toBeGreaterThan(8000);
    expect(db(goertzel(waiting, 8000, 440), goertzel(waiting, 8000, 700)), 'room vs prompt while waiting').toBeLessThan(-35);
    expect(room.participants.map((p) => p.identity)).toEqual(['speaker']);

    const heardBefore = caller.received.length;
    await bridge.admit('caller', room.join({ identity: 'caller', displayName: 'Caller', kind: 'sip' }));
    await speak(1200);
    const admitted = caller.heard(heardBefore + 10);
    expect(rms(admitted)).toBeGreaterThan(1000);
    expect(db(goertzel(admitted, 8000, 440), goertzel(admitted, 8000, 1000)), 'room vs own voice').toBeGreaterThan(30);
  });

  it('shipped prompts are real speech that plays without error', async () => {
    const samples = new PromptLibrary().get('enter-pin');
    expect(samples).not.toBeNull();
    const phone = await UdpPhone.open(1000);
    closers.push(() => phone.close());
    await bridge.openPhone('listener', negotiateOffer(phone.offer(), ['PCMU']));
    await bridge.playPrompt('listener', samples);
    await sleep(1500);
    expect(rms(phone.heard(5))).toBeGreaterThan(300);
    await bridge.closePhone('listener');
  });
});

describe('RoomAudioBridge: phones take part in active-speaker detection', () => {
  it('relays G.711 phone audio with RFC 6464 levels the SFU reads (loud phone measured, silent phone not)', async () => {
    const room = await openRoom('speakers');
    const bridge = await RoomAudioBridge.create(room, HOST);
    closers.push(() => bridge.close());
    // The room's speaker detection runs on these levels; an audio-level observer reports them as dBov.
    const observer = await room.router.createAudioLevelObserver({ threshold: -70, interval: 300, maxEntries: 4 });
    const reports: Array<Array<{ producerId: string; volume: number }>> = [];
    observer.on('volumes', (volumes) => reports.push(volumes.map((v) => ({ producerId: v.producer.id, volume: v.volume }))));
    const silent = await UdpPhone.open(800, 0);
    const talker = await UdpPhone.open(800, 6000);
    closers.push(() => silent.close(), () => talker.close());
    const join = async (phone: UdpPhone, name: string) => {
      const port = await bridge.openPhone(name, negotiateOffer(phone.offer(), ['PCMU']));
      const participant = room.join({ identity: name, displayName: name, kind: 'sip' });
      const producer = await bridge.admit(name, participant);
      expect(producer.rtpParameters.headerExtensions?.map((ext) => ext.uri)).toContain('urn:ietf:params:rtp-hdrext:ssrc-audio-level');
      await observer.addProducer({ producerId: producer.id });
      return { port, producer };
    };
    const quiet = await join(silent, 'silent');
    const loud = await join(talker, 'talker');
    const until = Date.now() + 3000;
    while (Date.now() < until && reports.length < 3) {
      silent.socket.send(silent.sender.next(), quiet.port, HOST);
      talker.socket.send(talker.sender.next(), loud.port, HOST);
      await sleep(20);
    }
    expect(reports.length, 'volume reports').toBeGreaterThanOrEqual(3);
    for (const report of reports) {
      expect(report.map((entry) => entry.producerId)).toEqual([loud.producer.id]);
      // A sine of amplitude 6000 is 6000/√2 RMS: about -17.7 dBov.
      expect(report[0]!.volume).toBeGreaterThanOrEqual(-20);
      expect(report[0]!.volume).toBeLessThanOrEqual(-16);
    }
  });
});
