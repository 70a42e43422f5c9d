import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  awaitByeSteps, byeSteps, calls, configure, dtmfSteps, eventually, expectNothingLeft, participants, rest, scenario, sipp, sipUdpPort,
  startOfficeSipServer, stopPeersAndServer,
} from '../../../support/sipCalls.js';

let server: ConfluxServer;
// Each SIPp gets its own SIP port and media ports (RTP, RTCP and the echo pair above them).
let nextPeer = 0;

beforeAll(async () => {
  server = await startOfficeSipServer();
  await configure(server, 'dispatch-rules', { id: 'conf', name: 'PIN conference', type: 'direct', room: 'pin-room', numbers: ['3000'], pin: '246', pinMaxAttempts: 3 });
  await configure(server, 'dispatch-rules', { id: 'conf2', name: 'PIN conference, two tries', type: 'direct', room: 'pin-room-2', numbers: ['3001'], pin: '246', pinMaxAttempts: 2 });
});

afterAll(() => stopPeersAndServer(server));

/**
 * SIPp calls `number`, plays `digits` as RFC 4733 events from its shipped pcaps, then `ending`. Each pcap
 * replays the same RTP timestamp, so a digit may appear only once per call (a repeat is the same key press).
 */
function callWithDigits(number: string, digits: string, ending: string) {
  const file = scenario('uac-call.xml', { DTMF_PLAY: dtmfSteps(digits), ENDING: ending });
  const index = nextPeer++;
  return sipp(['-sf', file, `127.0.0.1:${sipUdpPort(server)}`, '-s', number, '-p', String(27300 + index), '-mp', String(27400 + index * 10)],
    { timeoutSeconds: 25 });
}

async function callTo(room: string): Promise<SipCallInfo> {
  const [call] = await eventually(async () => (await calls(server)).filter((c) => c.room === room && c.state !== 'ended'),
    (list) => list.length > 0, 5000, `a call to ${room}`);
  return call!;
}

describe('PIN dial-in with RFC 4733 digits played by SIPp', () => {
  it('holds the caller outside the room until the right PIN, then admits it; a kick sends BYE', async () => {
    const peer = callWithDigits('3000', '246#', awaitByeSteps(15_000));
    const waiting = await callTo('pin-room');
    expect(waiting).toMatchObject({ state: 'pin', participantId: null, ruleId: 'conf' });
    expect(await participants(server, 'pin-room')).toEqual([]);

    const [phone] = await eventually(() => participants(server, 'pin-room'), (list) => list.length > 0, 8000, 'the caller to be admitted');
    expect(phone).toMatchObject({ kind: 'sip' });
    expect(phone!.attributes).toMatchObject({ 'sip.rule': 'conf', 'sip.direction': 'inbound' });
    expect(phone!.attributes['sip.from']).toContain('+15550100@');
    expect((await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${waiting.id}`)).body.call)
      .toMatchObject({ state: 'active', participantId: phone!.id });

    // Let SIPp finish playing the trailing # and reach its wait for BYE (a BYE during a pause aborts it).
    await new Promise((r) => setTimeout(r, 1000));
    expect((await rest(server, 'DELETE', `/api/v1/rooms/pin-room/participants/${phone!.id}`)).status).toBe(204);
    // The scenario ends well only when our BYE arrives.
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    expect((await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${waiting.id}`)).body.call)
      .toMatchObject({ state: 'ended', endReason: 'kicked' });
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('a wrong PIN closed with # costs one attempt, not two: the right PIN on the second try still gets in', async () => {
    const peer = callWithDigits('3001', '135#246', byeSteps(2000));
    const call = await callTo('pin-room-2');
    const [phone] = await eventually(() => participants(server, 'pin-room-2'), (list) => list.length > 0, 8000,
      'the caller to be admitted on the second attempt');
    expect(phone).toMatchObject({ kind: 'sip', id: expect.any(String) });
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'remote-hangup', participantId: phone!.id });
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('hangs up with BYE after pinMaxAttempts wrong PINs, without the caller ever joining', async () => {
    const peer = callWithDigits('3000', '1357908*2', awaitByeSteps(15_000));
    const call = await callTo('pin-room');
    let joined = false;
    const watch = setInterval(() => {
      void participants(server, 'pin-room').then((list) => { if (list.length > 0) joined = true; });
    }, 100);
    try {
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);
    } finally {
      clearInterval(watch);
    }
    expect(joined).toBe(false);
    expect((await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call.id}`)).body.call)
      .toMatchObject({ state: 'ended', endReason: 'pin-failed', participantId: null });
    expect(await expectNothingLeft(server)).toEqual([]);
  });
});
