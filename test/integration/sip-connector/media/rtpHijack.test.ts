import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MixerThread } from '../../../../sip-connector/media/MixerThread.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A UDP endpoint on one loopback address that keeps what it receives. */
async function endpoint(address: string): Promise<{ socket: dgram.Socket; received: Buffer[]; port: number }> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (data) => received.push(data));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { socket, received, port: socket.address().port };
}

/** Sends `count` packets from `make`, one every 20 ms. */
async function stream(count: number, send: (i: number) => void): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    send(i);
  }
}

const ATTACKER_PAYLOAD = 0x55;
const attackerRtp = (payloadType: number, seq: number) => RtpPacket.from({
  payloadType, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0xbad, marker: false, payload: new Uint8Array(160).fill(ATTACKER_PAYLOAD),
}).serialize();

describe('a phone leg against an attacker who knows its RTP port (strict source, media handover)', () => {
  it('stays latched on the phone, relays and mixes none of the attacker\'s packets, and moves only after the phone has gone quiet', async () => {
    const mixer = await MixerThread.start();
    cleanups.push(() => mixer.close());
    const phone = await endpoint('127.0.0.1');
    const attacker = await endpoint('127.0.0.2');
    const relay = await endpoint('127.0.0.1');
    const port = await mixer.addSource({
      sourceId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000, dtmfPayloadType: 101, latch: true,
      forward: { ip: '127.0.0.1', port: relay.port, ssrc: 1234 },
    });
    // The SDP said to send to the phone's port; the mixer answers where the phone's packets come from.
    await mixer.addLeg({ legId: 'phone', codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: ['phone'],
      destination: { ip: '127.0.0.1', port: phone.port } });
    const tone = new ToneRtpSender('PCMU', 0, 440);
    cleanups.push(() => tone.close());

    await stream(100, (i) => {
      phone.socket.send(tone.next(), port, '127.0.0.1');
      // Every kind of junk an attacker sends, interleaved with the phone's stream.
      const junk = [Buffer.from([0x80]), Buffer.alloc(65_000, 0x80), attackerRtp(8, i), attackerRtp(0, i),
        Buffer.from([0x80, 0xc8, 0x00, 0x06, ...new Array<number>(24).fill(0)])];
      attacker.socket.send(junk[i % junk.length]!, port, '127.0.0.1');
    });
    await sleep(100);
    const [activity] = await mixer.sourceActivity();
    expect(activity).toMatchObject({ remote: { ip: '127.0.0.1', port: phone.port }, packets: 100, rejected: 100 });
    expect(attacker.received).toHaveLength(0);
    expect(phone.received.length).toBeGreaterThan(80);
    // The room heard the phone alone: every relayed packet is the phone's, none carries the attacker's payload.
    expect(relay.received).toHaveLength(100);
    expect(relay.received.every((d) => RtpPacket.parse(d).payload[0] !== ATTACKER_PAYLOAD)).toBe(true);
    expect((await mixer.stats()).rtpRejected).toBe(100);

    // The phone stops (its NAT binding changed, say): after it has been quiet, a sustained stream from the
    // new address takes its place, and the leg follows.
    await sleep(2100);
    await stream(40, (i) => attacker.socket.send(attackerRtp(0, 1000 + i), port, '127.0.0.1'));
    await sleep(100);
    const [moved] = await mixer.sourceActivity();
    expect(moved!.remote).toEqual({ ip: '127.0.0.2', port: attacker.port });
    expect(attacker.received.length).toBeGreaterThan(5);
  });
});
