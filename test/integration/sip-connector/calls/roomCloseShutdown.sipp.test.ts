import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import { ownUdpSockets } from '../../../support/processSockets.js';
import {
  awaitByeSteps, calls, configure, eventually, expectNothingLeft, optionsStatusLine, participants, rest, scenario, sipp, sipUdpPort,
  startOfficeSipServer, startSipServer, stopPeersAndServer,
} from '../../../support/sipCalls.js';

let server: ConfluxServer;
let nextPeer = 0;

beforeAll(async () => {
  server = await startOfficeSipServer();
  await configure(server, 'dispatch-rules', { id: 'doomed', name: 'room to delete', type: 'direct', room: 'doomed', numbers: ['4200'] });
  await configure(server, 'dispatch-rules', { id: 'doomed-pin', name: 'PIN room to delete', type: 'direct', room: 'doomed-pin', numbers: ['4201'], pin: '9999' });
  await configure(server, 'dispatch-rules', { id: 'fragile', name: 'room whose mixer dies', type: 'direct', room: 'fragile', numbers: ['4202'] });
});

afterAll(() => stopPeersAndServer(server));

/** A SIPp caller that sends no audio and waits up to 10 s for the server's BYE (well past the test's own waits). */
function caller(target: ConfluxServer, number: string) {
  const file = scenario('uac-call.xml', { DTMF_PLAY: '', ENDING: awaitByeSteps(10_000) });
  const index = nextPeer++;
  return sipp(['-sf', file, `127.0.0.1:${sipUdpPort(target)}`, '-s', number, '-p', String(29400 + index), '-mp', String(29420 + index * 10)],
    { timeoutSeconds: 20 });
}

/** The scenario pauses 500 ms after its ACK, and SIPp aborts on a request arriving during a pause. */
const pastItsPause = () => new Promise((resolve) => setTimeout(resolve, 700));

const callsIn = async (target: ConfluxServer, room: string) => (await calls(target)).filter((c) => c.room === room);

describe('calls ended by their room or the server going away, with SIPp callers', () => {
  it('DELETE /api/v1/rooms/R with two phones in it sends each a BYE (endReason room-closed) and leaves nothing behind', async () => {
    const peers = [caller(server, '4200'), caller(server, '4200')];
    await eventually(() => participants(server, 'doomed'), (list) => list.length === 2, 5000, 'both callers in the room');
    await pastItsPause();
    const deletedAt = Date.now();
    expect((await rest(server, 'DELETE', '/api/v1/rooms/doomed')).status).toBe(204);
    for (const peer of peers) {
      // Each scenario completes only when the server's BYE arrives.
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);
    }
    const ended = await callsIn(server, 'doomed');
    expect(ended.map((c) => [c.state, c.endReason])).toEqual([['ended', 'room-closed'], ['ended', 'room-closed']]);
    // Long before the 5 s media timeout could have been the reason.
    for (const call of ended) expect(Date.parse(call.endedAt!) - deletedAt).toBeLessThan(2000);
    expect(server.rooms.find('doomed')).toBeUndefined();
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('DELETE /api/v1/rooms/R also hangs up a caller still entering its PIN (answered, not yet a participant)', async () => {
    const peer = caller(server, '4201');
    const [waiting] = await eventually(() => callsIn(server, 'doomed-pin'), (list) => list[0]?.state === 'pin', 5000, 'the caller at the PIN prompt');
    expect(await participants(server, 'doomed-pin')).toEqual([]);
    await pastItsPause();
    const deletedAt = Date.now();
    expect((await rest(server, 'DELETE', '/api/v1/rooms/doomed-pin')).status).toBe(204);
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${waiting!.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'room-closed', participantId: null });
    expect(Date.parse(ended.endedAt!) - deletedAt, 'BYE right away, not at the media timeout').toBeLessThan(2000);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('a room mixer that dies ends its calls with BYE (endReason media-failure) instead of leaving silent lines up', async () => {
    const peer = caller(server, '4202');
    await eventually(() => callsIn(server, 'fragile'), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    await pastItsPause();
    const bridge = await server.sipCalls!.audioBridge('fragile');
    expect(bridge).toBeDefined();
    // Terminating the worker thread is what a crash inside it looks like from the main thread.
    await bridge!.mixer.close();
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    const [ended] = await callsIn(server, 'fragile');
    expect(ended).toMatchObject({ state: 'ended', endReason: 'media-failure' });
    expect(await participants(server, 'fragile')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('server.close() with a phone in a call sends it a BYE before the SIP port stops answering; no socket is left', async () => {
    const baseline = ownUdpSockets();
    const dedicated = await startSipServer();
    let closed = false;
    try {
      await configure(dedicated, 'inbound-trunks', { id: 'office', name: 'office PBX', allowedAddresses: ['127.0.0.1'] });
      await configure(dedicated, 'dispatch-rules', { id: 'main', name: 'main', type: 'direct', room: 'closing' });
      const port = sipUdpPort(dedicated);
      const peer = caller(dedicated, '4300');
      const [call] = await eventually(() => callsIn(dedicated, 'closing'), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
      expect(await optionsStatusLine(port)).toBe('SIP/2.0 200 OK');
      await pastItsPause();

      await dedicated.close();
      closed = true;
      // The scenario passes only if the BYE reached it, which it can only have done while the server still listened.
      const { code, out } = await peer.result;
      expect(code, out).toBe(0);
      expect(dedicated.sipCalls!.get(call!.id)).toMatchObject({ state: 'ended', endReason: 'shutdown' });
      await expect(optionsStatusLine(port), 'the SIP port is closed after close()').rejects.toThrow(/no answer/);
      // Phone legs, mixer sockets and the SIP socket of the dedicated server are all gone.
      expect(await eventually(ownUdpSockets, (now) => JSON.stringify(now) === JSON.stringify(baseline), 3000, 'UDP sockets back to the baseline'))
        .toEqual(baseline);
    } finally {
      if (!closed) await dedicated.close();
    }
  });
});
