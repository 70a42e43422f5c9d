import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  byeSteps, calls, configure, eventually, expectNothingLeft, participants, scenario, sipp, sipUdpPort, startOfficeSipServer,
  stopPeersAndServer,
} from '../../../support/sipCalls.js';

let server: ConfluxServer;
let nextPeer = 0;

beforeAll(async () => {
  server = await startOfficeSipServer();
  // Calls to 7000 take the trunk with credentials: it lists the number, so it outranks the open office trunk.
  await configure(server, 'inbound-trunks', {
    id: 'secure', name: 'with digest', allowedAddresses: ['127.0.0.1'], numbers: ['7000'], auth: { username: 'pbx', password: 'right-pass' },
  });
  await configure(server, 'dispatch-rules', { id: 'main', name: 'main number', type: 'direct', room: 'lobby', numbers: ['1000', '7000'] });
});

afterAll(() => stopPeersAndServer(server));

/** Runs one SIPp call and returns its exit code and output. */
async function run(file: string, number: string, extra: string[] = [], localIp?: string) {
  const index = nextPeer++;
  return sipp(['-sf', file, `127.0.0.1:${sipUdpPort(server)}`, '-s', number, '-p', String(27600 + index), '-mp', String(27700 + index * 10), ...extra],
    { timeoutSeconds: 15, ...(localIp ? { localIp } : {}) }).result;
}

const sdpLines = (lines: string[]) => lines.map((line) => `      ${line}`).join('\n');
const OFFER_HEAD = ['v=0', 'o=sipp 1 1 IN IP[local_ip_type] [local_ip]', 's=-', 'c=IN IP[media_ip_type] [media_ip]', 't=0 0'];

describe('inbound INVITEs the product must refuse, sent by SIPp', () => {
  const refusals: Array<[string, string, string]> = [
    ['an INVITE without SDP', '488', ''],
    ['a body that is not SDP', '488', sdpLines(['this is not a session description', '<<< m=audio garbage >>>'])],
    ['an offer with no common codec (G.729 only)', '488', sdpLines([...OFFER_HEAD, 'm=audio [media_port] RTP/AVP 18', 'a=rtpmap:18 G729/8000'])],
    ['an SRTP-only offer (RTP/SAVP)', '488', sdpLines([...OFFER_HEAD, 'm=audio [media_port] RTP/SAVP 0',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR'])],
  ];
  for (const [what, status, body] of refusals) {
    it(`answers ${what} with ${status}`, async () => {
      const file = scenario('uac-expect.xml', { STATUS: status, BODY: body, BODY_DESC: what });
      const { code, out } = await run(file, '1000');
      expect(code, out).toBe(0);
    });
  }

  it('answers a call into a full room with 486 before answering it, and adds nobody', async () => {
    await configure(server, 'dispatch-rules', { id: 'tiny', name: 'one-seat room', type: 'direct', room: 'tiny', numbers: ['2000'] });
    const { room } = await server.rooms.getOrCreate('tiny', { maxParticipants: 1 });
    const occupant = room.join({ identity: 'occupant', displayName: 'Occupant', kind: 'webrtc' });
    try {
      const file = scenario('uac-expect.xml', { STATUS: '486', BODY: sdpLines([...OFFER_HEAD, 'm=audio [media_port] RTP/AVP 0']), BODY_DESC: 'a valid offer' });
      const { code, out } = await run(file, '2000');
      expect(code, out).toBe(0);
      expect((await participants(server, 'tiny')).map((p) => p.identity)).toEqual(['occupant']);
      expect((await calls(server)).filter((call) => call.room === 'tiny' && call.state !== 'ended')).toEqual([]);
    } finally {
      occupant.close('left');
    }
  });

  it('answers a number no dispatch rule takes with 404', async () => {
    const file = scenario('uac-expect.xml', { STATUS: '404', BODY: sdpLines([...OFFER_HEAD, 'm=audio [media_port] RTP/AVP 0']), BODY_DESC: 'a valid offer' });
    const { code, out } = await run(file, '9999');
    expect(code, out).toBe(0);
  });

  it('answers a source no trunk allows (127.0.0.2) with 403', async () => {
    const file = scenario('uac-expect.xml', { STATUS: '403', BODY: sdpLines([...OFFER_HEAD, 'm=audio [media_port] RTP/AVP 0']), BODY_DESC: 'a valid offer' });
    const { code, out } = await run(file, '1000', [], '127.0.0.2');
    expect(code, out).toBe(0);
  });

  it('challenges a trunk with credentials (407), answers the challenge with a wrong password 403', async () => {
    const file = scenario('uac-digest.xml', { STATUS: '403', AFTER: '' });
    const { code, out } = await run(file, '7000', ['-au', 'pbx', '-ap', 'wrong-pass']);
    expect(code, out).toBe(0);
  });

  it('admits the challenge answered with the right password (200) into the rule\'s room', async () => {
    const file = scenario('uac-digest.xml', { STATUS: '200', AFTER: byeSteps(1500, 3) });
    const peer = run(file, '7000', ['-au', 'pbx', '-ap', 'right-pass']);
    const [phone] = await eventually(() => participants(server, 'lobby'), (list) => list.length > 0, 5000, 'the authenticated caller in lobby');
    expect(phone!.attributes).toMatchObject({ 'sip.trunk': 'secure', 'sip.rule': 'main' });
    const { code, out } = await peer;
    expect(code, out).toBe(0);
    const call = (await calls(server)).find((c: SipCallInfo) => c.participantId === phone!.id);
    expect(call).toMatchObject({ state: 'ended', endReason: 'remote-hangup' });
  });

  it('a CANCEL right behind the INVITE (new room, mixer starting) gets 487 and leaves no call and no participant', async () => {
    await configure(server, 'dispatch-rules', { id: 'fresh', name: 'fresh room', type: 'direct', room: 'cancel-room', numbers: ['5000'] });
    // Raw UDP: SIPp cannot send two requests back to back, and the CANCEL must land while the call is set up.
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const responses: string[] = [];
    socket.on('message', (data) => responses.push(data.toString()));
    const local = socket.address().port;
    const target = `sip:5000@127.0.0.1:${sipUdpPort(server)}`;
    const common = (method: string) => [`Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-cancel-race`, 'Max-Forwards: 70',
      `From: <sip:+15550177@127.0.0.1:${local}>;tag=race`, `To: <${target}>`, 'Call-ID: cancel-race@127.0.0.1', `CSeq: 1 ${method}`];
    const sdp = ['v=0', 'o=raw 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 27990 RTP/AVP 0', ''].join('\r\n');
    const invite = [`INVITE ${target} SIP/2.0`, ...common('INVITE'), `Contact: <sip:raw@127.0.0.1:${local}>`, 'Content-Type: application/sdp',
      `Content-Length: ${sdp.length}`, '', sdp].join('\r\n');
    const cancel = [`CANCEL ${target} SIP/2.0`, ...common('CANCEL'), 'Content-Length: 0', '', ''].join('\r\n');
    try {
      socket.send(invite, sipUdpPort(server), '127.0.0.1');
      socket.send(cancel, sipUdpPort(server), '127.0.0.1');
      const final = await eventually(() => responses.find((r) => /^SIP\/2\.0 [2-6]\d\d[^\r]*\r\n[\s\S]*CSeq: 1 INVITE/.test(r)),
        (found) => found !== undefined, 5000, 'a final response to the INVITE');
      const toTag = /\r\nTo: [^\r]*tag=([^;\r]+)/.exec(final!)?.[1] ?? '';
      const ack = [`ACK ${target} SIP/2.0`, ...common('ACK').map((h) => (h.startsWith('To:') ? `${h};tag=${toTag}` : h)),
        'Content-Length: 0', '', ''].join('\r\n');
      socket.send(ack, sipUdpPort(server), '127.0.0.1');
      expect(final!.split('\r\n')[0]).toBe('SIP/2.0 487 Request Terminated');
      // Whatever the server was still doing when the CANCEL came must not end in a room participant.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await participants(server, 'cancel-room')).toEqual([]);
      const cancelled = (await calls(server)).filter((c) => c.room === 'cancel-room');
      expect(cancelled.every((c) => c.state === 'ended'), JSON.stringify(cancelled)).toBe(true);
      expect(responses.some((r) => r.startsWith('SIP/2.0 200') && r.includes('CSeq: 1 CANCEL'))).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('survives raw garbage over UDP and TCP', async () => {
    const junk = Buffer.concat([Buffer.from('INVITE sip:1000@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\nContent-Length: 99999\r\n\r\n'),
      Buffer.from([0, 255, 1, 254, 13, 10, 13, 10])]);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    socket.send(junk, sipUdpPort(server), '127.0.0.1');
    socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), sipUdpPort(server), '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    socket.close();
    const tcp = net.connect(server.sip!.ports.tcp!, '127.0.0.1');
    await new Promise<void>((res, rej) => { tcp.once('connect', res); tcp.once('error', rej); });
    tcp.write(junk);
    tcp.write('GARBAGE\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    tcp.destroy();
  });

  it('leaves nothing behind: no call in progress, no sip participant, no transport in any router, OPTIONS still 200', async () => {
    expect(await expectNothingLeft(server)).toEqual([]);
    const ended = (await calls(server)).filter((c) => c.room === 'lobby').map((c) => c.endReason);
    expect(ended).toEqual(['remote-hangup']);
  });
});
