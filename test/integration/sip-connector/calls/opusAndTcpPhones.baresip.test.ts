import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone, expectPhonesHeardEachOther, toneLevels, type BaresipPhoneOptions } from '../../../support/baresip.js';
import { establishedTcpOn } from '../../../support/processSockets.js';
import {
  calls, configure, eventually, expectNothingLeft, participants, rest, sipUdpPort, startSipServer, type ParticipantView,
} from '../../../support/sipCalls.js';
import { stopAllPeers } from '../peers.js';

const ROOM = 'codecs';
// The phones: a PCMU phone over UDP always in the room, an Opus phone over UDP and a PCMU phone over TCP.
const BOB: BaresipPhoneOptions = { user: 'bob', sipPort: 29110, ctrlPort: 29115, rtpPortMin: 29120, toneHz: 1500, codec: 'PCMU', transport: 'udp', lifetimeMs: 90_000 };
const CAROL: BaresipPhoneOptions = { user: 'carol', sipPort: 29150, ctrlPort: 29155, rtpPortMin: 29160, toneHz: 1000, codec: 'opus', transport: 'udp', lifetimeMs: 90_000 };
const DAVE: BaresipPhoneOptions = { user: 'dave', sipPort: 29190, ctrlPort: 29195, rtpPortMin: 29200, toneHz: 700, codec: 'PCMU', transport: 'tcp', lifetimeMs: 90_000 };
// Phones send amplitude 0.3; a tone heard through the mixer stays well above this, its absence far below.
const MIN_TONE = 0.1;
const MIX_MINUS_MARGIN_DB = 30;

let server: ConfluxServer;
let bob: BaresipPhone;
let carol: BaresipPhone;
let dave: BaresipPhone;

beforeAll(async () => {
  server = await startSipServer();
  await configure(server, 'inbound-trunks', { id: 'loopback', name: 'loopback phones', allowedAddresses: ['127.0.0.1'], codecs: ['opus', 'PCMU'] });
  await configure(server, 'dispatch-rules', { id: 'codecs', name: 'codecs room', type: 'direct', room: ROOM });
  bob = await BaresipPhone.start(BOB);
  carol = await BaresipPhone.start(CAROL);
  dave = await BaresipPhone.start(DAVE);
});

afterAll(async () => {
  await Promise.all([bob?.stop(), carol?.stop(), dave?.stop()]);
  await stopAllPeers();
  await server?.close();
});

afterEach(async () => {
  // A phone that does not report CALL_CLOSED in time is left to the checks below.
  const hangUp = (phone: BaresipPhone | undefined) => phone?.ensureHungUp().catch(() => undefined);
  await Promise.all([hangUp(bob), hangUp(carol), hangUp(dave)]);
  await eventually(async () => (await calls(server)).filter((c) => c.state !== 'ended'), (live) => live.length === 0, 5000, 'no call in progress');
  expect(await expectNothingLeft(server)).toEqual([]);
});

/** Dials the room and waits for the phone's participant and its active call. */
async function dialIn(phone: BaresipPhone, uri: string): Promise<{ participant: ParticipantView; call: SipCallInfo }> {
  phone.dial(uri);
  await phone.waitForEvent('CALL_ESTABLISHED');
  const [participant] = await eventually(async () => (await participants(server, ROOM)).filter((p) => p.attributes['sip.from']?.includes(`${phone.options.user}@`)),
    (list) => list.length === 1 && list[0]!.producers.length === 1, 5000, `${phone.options.user} in ${ROOM}`);
  const [call] = await eventually(async () => (await calls(server)).filter((c) => c.participantId === participant!.id && c.state === 'active'),
    (list) => list.length === 1, 5000, `${phone.options.user}'s call active`);
  return { participant: participant!, call: call! };
}

const udpUri = () => `sip:${ROOM}@127.0.0.1:${sipUdpPort(server)}`;

describe('baresip phones with Opus and over TCP, next to a PCMU baresip over UDP', () => {
  it('an Opus 48 kHz stereo baresip and a PCMU baresip hear each other; the call and its producer are Opus', async () => {
    await dialIn(bob, udpUri());
    const { participant, call } = await dialIn(carol, udpUri());
    expect(call.codec).toBe('opus');
    // The Opus phone's audio goes into mediasoup as it came, an Opus producer browsers consume without transcoding.
    const producer = server.rooms.find(ROOM)!.participants.find((p) => p.id === participant.id)!.producers.values().next().value!;
    expect(producer.kind).toBe('audio');
    expect(producer.rtpParameters.codecs[0]!.mimeType.toLowerCase()).toBe('audio/opus');
    expect((await calls(server)).find((c) => c.participantId !== participant.id && c.state === 'active')?.codec).toBe('PCMU');

    await new Promise((resolve) => setTimeout(resolve, 3000));
    await expectPhonesHeardEachOther(
      { phone: carol, label: 'the Opus phone', toneHz: CAROL.toneHz!, sampleRate: 48000 },
      { phone: bob, label: 'the PCMU phone', toneHz: BOB.toneHz!, sampleRate: 8000 }, MIN_TONE, MIX_MINUS_MARGIN_DB);
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'remote-hangup', codec: 'opus' });
  });

  it('a baresip dialling over TCP joins and is heard by the UDP phone; its BYE over the TCP connection ends the call', async () => {
    const tcpPort = server.sip!.ports.tcp!;
    expect(establishedTcpOn(tcpPort)).toBe(0);
    await dialIn(bob, udpUri());
    // The account's ;transport=tcp makes baresip send the INVITE (and everything after it) over TCP.
    const { call } = await dialIn(dave, `sip:${ROOM}@127.0.0.1:${tcpPort}`);
    expect(call.codec).toBe('PCMU');
    // The call's signalling runs over a connection to the server's SIP TCP port.
    expect(establishedTcpOn(tcpPort), 'connections to the SIP TCP port').toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 3000));
    dave.hangup();
    await dave.waitForEvent('CALL_CLOSED');
    const ended = await eventually(async () => (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call,
      (info) => info.state === 'ended', 5000, 'the TCP call to end');
    expect(ended.endReason).toBe('remote-hangup');
    // The other phone stays in the room.
    expect((await participants(server, ROOM)).map((p) => p.attributes['sip.from'])).toEqual([expect.stringContaining('bob@')]);
    bob.hangup();
    await bob.waitForEvent('CALL_CLOSED');

    const bobHeard = toneLevels(await bob.lastRecording(), [DAVE.toneHz, BOB.toneHz], 2, 0.8);
    const daveHeard = toneLevels(await dave.lastRecording(), [DAVE.toneHz, BOB.toneHz]);
    console.log(`bob hears dave (TCP) ${bobHeard.tones[DAVE.toneHz]!.toFixed(4)}; dave hears bob ${daveHeard.tones[BOB.toneHz]!.toFixed(4)}`);
    expect(bobHeard.tones[DAVE.toneHz], 'the TCP phone at the UDP phone').toBeGreaterThan(MIN_TONE);
    expect(daveHeard.tones[BOB.toneHz], 'the UDP phone at the TCP phone').toBeGreaterThan(MIN_TONE);
  });

  it('hanging up a TCP caller over REST sends the BYE to baresip over TCP (it hears CALL_CLOSED)', async () => {
    const tcpPort = server.sip!.ports.tcp!;
    const { call } = await dialIn(dave, `sip:${ROOM}@127.0.0.1:${tcpPort}`);
    expect((await rest(server, 'DELETE', `/api/v1/sip/calls/${call.id}`)).status).toBe(204);
    // Nobody hung up on baresip's side: only our BYE can have closed its call.
    const closed = await dave.waitForEvent('CALL_CLOSED', 5000);
    // baresip reports a BYE it received as "Connection reset by peer".
    console.log(`dave's call closed by the server: "${closed.param}"`);
    expect((await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call)
      .toMatchObject({ state: 'ended', endReason: 'hangup' });
  });
});
