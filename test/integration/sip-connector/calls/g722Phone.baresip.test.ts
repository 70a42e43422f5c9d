import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone, expectPhonesHeardEachOther, type BaresipPhoneOptions } from '../../../support/baresip.js';
import {
  calls, configure, eventually, expectNothingLeft, participants, rest, sipUdpPort, startSipServer, type ParticipantView,
} from '../../../support/sipCalls.js';
import { stopAllPeers } from '../peers.js';

const ROOM = 'wideband';
// A G.722 phone (16 kHz tone WAV) and a PCMU phone, each sending its own tone.
const ERIN: BaresipPhoneOptions = { user: 'erin', sipPort: 29310, ctrlPort: 29315, rtpPortMin: 29320, toneHz: 1000, codec: 'G722', lifetimeMs: 90_000 };
const FRANK: BaresipPhoneOptions = { user: 'frank', sipPort: 29350, ctrlPort: 29355, rtpPortMin: 29360, toneHz: 1500, codec: 'PCMU', lifetimeMs: 90_000 };
// Phones send amplitude 0.3; a tone heard through the mixer stays well above this, its absence far below.
const MIN_TONE = 0.1;
const MIX_MINUS_MARGIN_DB = 30;

let server: ConfluxServer;
let erin: BaresipPhone;
let frank: BaresipPhone;

beforeAll(async () => {
  server = await startSipServer();
  await configure(server, 'inbound-trunks', { id: 'loopback', name: 'loopback phones', allowedAddresses: ['127.0.0.1'], codecs: ['G722', 'PCMU'] });
  await configure(server, 'dispatch-rules', { id: 'wideband', name: 'wideband room', type: 'direct', room: ROOM });
  erin = await BaresipPhone.start(ERIN);
  frank = await BaresipPhone.start(FRANK);
});

afterAll(async () => {
  await Promise.all([erin?.stop(), frank?.stop()]);
  await stopAllPeers();
  await server?.close();
});

afterEach(async () => {
  const hangUp = (phone: BaresipPhone | undefined) => phone?.ensureHungUp().catch(() => undefined);
  await Promise.all([hangUp(erin), hangUp(frank)]);
  await eventually(async () => (await calls(server)).filter((c) => c.state !== 'ended'), (live) => live.length === 0, 5000, 'no call in progress');
  expect(await expectNothingLeft(server)).toEqual([]);
});

/** Dials the room and waits for the phone's participant and its active call. */
async function dialIn(phone: BaresipPhone): Promise<{ participant: ParticipantView; call: SipCallInfo }> {
  phone.dial(`sip:${ROOM}@127.0.0.1:${sipUdpPort(server)}`);
  await phone.waitForEvent('CALL_ESTABLISHED');
  const [participant] = await eventually(async () => (await participants(server, ROOM)).filter((p) => p.attributes['sip.from']?.includes(`${phone.options.user}@`)),
    (list) => list.length === 1 && list[0]!.producers.length === 1, 5000, `${phone.options.user} in ${ROOM}`);
  const [call] = await eventually(async () => (await calls(server)).filter((c) => c.participantId === participant!.id && c.state === 'active'),
    (list) => list.length === 1, 5000, `${phone.options.user}'s call active`);
  return { participant: participant!, call: call! };
}

describe('a G.722 baresip next to a PCMU baresip', () => {
  it('both hear each other; the call is G722 and its producer audio/G722 at clock 8000, payload type 9', async () => {
    await dialIn(frank);
    const { participant, call } = await dialIn(erin);
    expect(call.codec).toBe('G722');
    expect((await calls(server)).find((c) => c.participantId !== participant.id && c.state === 'active')?.codec).toBe('PCMU');
    // The G.722 phone's audio enters mediasoup untranscoded, as a G722 producer browsers decode themselves.
    const producer = server.rooms.find(ROOM)!.participants.find((p) => p.id === participant.id)!.producers.values().next().value!;
    expect(producer.kind).toBe('audio');
    expect(producer.rtpParameters.codecs[0]).toMatchObject({ mimeType: 'audio/G722', clockRate: 8000, payloadType: 9 });
    // No audio-level stamping: that is done for G.711 only.
    expect(producer.rtpParameters.headerExtensions ?? []).toEqual([]);

    await new Promise((resolve) => setTimeout(resolve, 3000));
    // The producer has been carrying the phone's packets all along.
    const stats = await producer.getStats();
    expect(stats.reduce((n, s) => n + s.packetCount, 0)).toBeGreaterThan(100);
    await expectPhonesHeardEachOther(
      { phone: erin, label: 'the G.722 phone', toneHz: ERIN.toneHz!, sampleRate: 16000 },
      { phone: frank, label: 'the PCMU phone', toneHz: FRANK.toneHz!, sampleRate: 8000 }, MIN_TONE, MIX_MINUS_MARGIN_DB);
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'remote-hangup', codec: 'G722' });
  });
});
