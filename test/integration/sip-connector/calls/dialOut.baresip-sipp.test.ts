import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { DialOutResult, SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone } from '../../../support/baresip.js';
import { CALL_SCENARIOS, configure, eventually, expectNothingLeft, participants, rest, sipp, startSipServer } from '../../../support/sipCalls.js';
import { stopAllPeers } from '../peers.js';

// Ports of the peers; the server's own SIP and RTP ports are ephemeral.
// An auto-answering phone (ports 27020-27039 for RTP) that plays a 440 Hz tone, so the call has media both ways.
const BARESIP = {
  user: '1001', sipPort: 27010, ctrlPort: 27015, rtpPortMin: 27020, toneHz: 440, toneAmplitude: 8000 / 32767, lifetimeMs: 110_000, record: false,
};
const SIPP_BUSY = 27050;
const SIPP_RINGING = 27051;
const SIPP_DIGEST = 27052;
const SIPP_BUSY_AGAIN = 27053;
/** A host a REST caller might try to reach through a trunk: another loopback address. */
const VICTIM = { address: '127.0.0.3', port: 27054 };

let server: ConfluxServer;
let baresip: BaresipPhone;

beforeAll(async () => {
  server = await startSipServer();
  // One trunk per far end: the trunk's host/port is where a bare number is sent.
  await configure(server, 'outbound-trunks', { id: 'phone', name: 'baresip', host: '127.0.0.1', port: BARESIP.sipPort, fromNumber: '+15550001', codecs: ['PCMU'] });
  await configure(server, 'outbound-trunks', { id: 'busy', name: 'busy', host: '127.0.0.1', port: SIPP_BUSY, fromNumber: '+15550001' });
  await configure(server, 'outbound-trunks', { id: 'ringing', name: 'ringing', host: '127.0.0.1', port: SIPP_RINGING, fromNumber: '+15550001' });
  await configure(server, 'outbound-trunks', {
    id: 'carrier', name: 'carrier with digest', host: '127.0.0.1', port: SIPP_DIGEST, fromNumber: '+15550001',
    auth: { username: 'conflux-trunk', password: 's3cret-trunk' },
  });
  baresip = await BaresipPhone.start(BARESIP);
});

afterAll(async () => {
  await baresip?.stop();
  await stopAllPeers();
  await server?.close();
});

async function dial(body: object): Promise<{ status: number; result: DialOutResult }> {
  const { status, body: result } = await rest<DialOutResult>(server, 'POST', '/api/v1/sip/calls', body);
  return { status, result };
}

describe('dial-out over REST to real callees (baresip answering, SIPp busy / ringing / challenging)', () => {
  it('baresip answers: the call joins the room as a sip participant, and DELETE hangs up with BYE', async () => {
    const { status, result } = await dial({ room: 'dial-baresip', trunkId: 'phone', to: '1001', ringTimeoutSeconds: 10 });
    expect(status, JSON.stringify(result) + baresip.output()).toBe(201);
    expect(result.outcome).toBe('answered');
    expect(result.call).toMatchObject({ direction: 'outbound', state: 'active', codec: 'PCMU', room: 'dial-baresip' });
    expect(result.call.participantId).toBeTruthy();
    await eventually(() => baresip.eventTypes, (events) => events.includes('CALL_ESTABLISHED'), 5000, 'baresip CALL_ESTABLISHED');

    const [phone, ...others] = await participants(server, 'dial-baresip');
    expect(others).toHaveLength(0);
    expect(phone).toMatchObject({ id: result.call.participantId, kind: 'sip' });
    expect(phone!.attributes['sip.direction']).toBe('outbound');
    expect(phone!.producers.map((producer) => producer.kind)).toEqual(['audio']);

    // baresip keeps sending its tone: the call outlives the 5 s media timeout.
    await new Promise((r) => setTimeout(r, 6500));
    expect((await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${result.call.id}`)).body.call.state).toBe('active');

    expect((await rest(server, 'DELETE', `/api/v1/sip/calls/${result.call.id}`)).status).toBe(204);
    await eventually(() => baresip.eventTypes, (events) => events.includes('CALL_CLOSED'), 5000, 'baresip CALL_CLOSED (our BYE)');
    const ended = (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${result.call.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'hangup' });
    expect(await participants(server, 'dial-baresip')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('SIPp answers 486: outcome busy, nothing joins the room', async () => {
    const peer = sipp(['-sf', `${CALL_SCENARIOS}/uas-busy.xml`, '-p', String(SIPP_BUSY)], { timeoutSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const { status, result } = await dial({ room: 'dial-busy', trunkId: 'busy', to: '+15557777', ringTimeoutSeconds: 10 });
    expect(status, JSON.stringify(result)).toBe(200);
    expect(result.outcome).toBe('busy');
    expect(result.call).toMatchObject({ state: 'ended', status: 486, participantId: null });
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    expect(await participants(server, 'dial-busy')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('SIPp only rings: outcome no-answer after ringTimeoutSeconds, and a CANCEL reaches the callee', async () => {
    const peer = sipp(['-sf', `${CALL_SCENARIOS}/uas-ring-only.xml`, '-p', String(SIPP_RINGING)], { timeoutSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const { status, result } = await dial({ room: 'dial-ringing', trunkId: 'ringing', to: '+15558888', ringTimeoutSeconds: 2 });
    const elapsed = Date.now() - started;
    expect(status, JSON.stringify(result)).toBe(200);
    expect(result.outcome).toBe('no-answer');
    expect(result.call).toMatchObject({ state: 'ended', status: 487 });
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(6000);
    // The scenario only completes when it received the CANCEL and sent 487.
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('through a trunk whose far end challenges with digest: the retried INVITE carries the trunk credentials', async () => {
    const peer = sipp(['-sf', `${CALL_SCENARIOS}/uas-digest.xml`, '-p', String(SIPP_DIGEST)],
      { timeoutSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const { status, result } = await dial({ room: 'dial-carrier', trunkId: 'carrier', to: '+15559999', ringTimeoutSeconds: 10 });
    expect(status, JSON.stringify(result)).toBe(201);
    expect(result.outcome).toBe('answered');
    expect((await participants(server, 'dial-carrier')).map((p) => p.kind)).toEqual(['sip']);
    expect((await rest(server, 'DELETE', `/api/v1/sip/calls/${result.call.id}`)).status).toBe(204);
    // The scenario ends with our BYE; a wrong digest would have sent it down its failing branch.
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    expect(await expectNothingLeft(server)).toEqual([]);
  });

  it('a sip: URI naming another host still goes to the trunk\'s host, unless the trunk allows any host', async () => {
    const victim = dgram.createSocket('udp4');
    const reached: string[] = [];
    victim.on('message', (data, from) => {
      const text = data.toString();
      reached.push(text);
      if (!text.startsWith('INVITE')) return;
      // Busy, so the attempt ends at once.
      const header = (name: string) => new RegExp(`^${name}: .*$`, 'im').exec(text)![0].trim();
      victim.send(['SIP/2.0 486 Busy Here', header('Via'), header('From'), `${header('To')};tag=victim`, header('Call-ID'),
        header('CSeq'), 'Content-Length: 0', '', ''].join('\r\n'), from.port, from.address);
    });
    await new Promise<void>((resolve) => victim.bind(VICTIM.port, VICTIM.address, resolve));
    try {
      const peer = sipp(['-sf', `${CALL_SCENARIOS}/uas-busy.xml`, '-p', String(SIPP_BUSY_AGAIN)], { timeoutSeconds: 20 });
      await new Promise((r) => setTimeout(r, 300));
      await configure(server, 'outbound-trunks', { id: 'busy-again', name: 'busy', host: '127.0.0.1', port: SIPP_BUSY_AGAIN, fromNumber: '+15550001' });
      const { result } = await dial({ room: 'dial-escape', trunkId: 'busy-again', to: `sip:victim@${VICTIM.address}:${VICTIM.port}`, ringTimeoutSeconds: 5 });
      expect(result.outcome).toBe('busy');
      expect(result.call.to).toBe(`sip:victim@127.0.0.1:${SIPP_BUSY_AGAIN};transport=udp`);
      expect((await peer.result).code).toBe(0);
      expect(reached).toEqual([]);
      // Without a user part there is nothing to call at the trunk's host.
      const { status } = await dial({ room: 'dial-escape', trunkId: 'busy-again', to: `sip:${VICTIM.address}`, ringTimeoutSeconds: 5 });
      expect(status).toBe(400);

      await configure(server, 'outbound-trunks', {
        id: 'any-host', name: 'any host', host: '127.0.0.1', port: SIPP_BUSY_AGAIN, fromNumber: '+15550001', allowAnyHost: true,
      });
      const dialling = dial({ room: 'dial-escape', trunkId: 'any-host', to: `sip:victim@${VICTIM.address}:${VICTIM.port}`, ringTimeoutSeconds: 2 });
      await eventually(() => reached, (messages) => messages.some((m) => m.startsWith(`INVITE sip:victim@${VICTIM.address}:${VICTIM.port}`)), 5000,
        'the INVITE at the URI\'s host');
      expect((await dialling).result.outcome).toBe('busy');
      expect(await expectNothingLeft(server)).toEqual([]);
    } finally {
      victim.close();
    }
  });
});
