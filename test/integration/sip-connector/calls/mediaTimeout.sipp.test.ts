import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  awaitByeSteps, calls, configure, eventually, expectNothingLeft, participants, rest, scenario, sipp, sipUdpPort, startOfficeSipServer,
  stopPeersAndServer,
} from '../../../support/sipCalls.js';

let server: ConfluxServer;

beforeAll(async () => {
  // mediaTimeoutSeconds is 5 in this server.
  server = await startOfficeSipServer();
  await configure(server, 'dispatch-rules', { id: 'lobby', name: 'lobby', type: 'direct', room: 'quiet-room' });
});

afterAll(() => stopPeersAndServer(server));

describe('media timeout against a SIPp caller that never sends RTP', () => {
  it('admits the silent caller, then hangs up with BYE once no RTP came for mediaTimeoutSeconds', async () => {
    const file = scenario('uac-call.xml', { DTMF_PLAY: '', ENDING: awaitByeSteps(15_000) });
    const peer = sipp(['-sf', file, `127.0.0.1:${sipUdpPort(server)}`, '-s', '4000', '-p', '27500', '-mp', '27510'], { timeoutSeconds: 25 });
    const [call] = await eventually(async () => (await calls(server)).filter((c) => c.state === 'active'), (list) => list.length > 0,
      5000, 'the call to be active');
    const answeredAt = Date.parse(call!.answeredAt!);
    expect((await participants(server, 'quiet-room')).map((p) => p.id)).toEqual([call!.participantId]);

    // The scenario completes only when the server's BYE arrives.
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call!.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'media-timeout' });
    // Checked every 2 s: the BYE comes after 5 s of silence and within one check interval of it (plus slack).
    const silentMs = Date.parse(ended.endedAt!) - answeredAt;
    expect(silentMs).toBeGreaterThanOrEqual(5000);
    expect(silentMs).toBeLessThan(8500);
    expect(await participants(server, 'quiet-room')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });
});
