import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negotiateOffer } from '../../../../sip-connector/calls/PhoneSdp.js';
import { PromptLibrary } from '../../../../sip-connector/calls/PromptLibrary.js';
import { RoomAudioBridge } from '../../../../sip-connector/calls/RoomAudioBridge.js';
import type { Room } from '../../../../server/rooms/Room.js';
import { RoomRegistry } from '../../../../server/rooms/RoomRegistry.js';
import { WorkerPool } from '../../../../server/workers/WorkerPool.js';
import { UdpPhone } from '../../../support/UdpPhone.js';
import { db, goertzel } from '../../../unit/sip-connector/media/support/goertzel.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';
import { rms, tone } from '../../../unit/sip-connector/media/support/tone.js';

const HOST = '127.0.0.1';

describe('RoomAudioBridge prompts: a caller waiting for admission hears prompts, not the room', () => {
  let pool: WorkerPool;
  let room: Room;
  let bridge: RoomAudioBridge;
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    pool = await WorkerPool.start({ numWorkers: 1, logLevel: 'error' });
    room = (await new RoomRegistry(pool, { emptyTimeoutSeconds: 60, maxParticipants: 10 }).getOrCreate('prompts')).room;
  });
  afterAll(() => {
    for (const close of closers) close();
    bridge?.close();
    room?.close();
    pool?.close();
  });

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
