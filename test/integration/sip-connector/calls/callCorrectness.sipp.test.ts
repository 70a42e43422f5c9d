import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import { SipServer } from '../../../../sip-connector/SipServer.js';
import {
  awaitByeSteps, byeSteps, calls, configure, eventually, participants, rest, scenario, sipp, sipUdpPort, startOfficeSipServer,
  stopPeersAndServer,
} from '../../../support/sipCalls.js';

let server: ConfluxServer;
let nextPeer = 0;
const warnings: string[] = [];
const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);

beforeAll(async () => {
  server = await startOfficeSipServer();
  await configure(server, 'dispatch-rules', { id: 'same-caller', name: 'one caller twice', type: 'direct', room: 'twice', numbers: ['4300'] });
  await configure(server, 'dispatch-rules', { id: 'burst', name: 'a burst of callers', type: 'direct', room: 'burst', numbers: ['4301'] });
  await configure(server, 'dispatch-rules', { id: 'fresh', name: 'rooms set up by their first call', type: 'per-caller', roomPrefix: 'fresh-', numbers: ['4303'] });
  process.on('warning', onWarning);
});

afterAll(async () => {
  process.off('warning', onWarning);
  await stopPeersAndServer(server);
});

/** SIPp calling `number` with its own ports; `extra` adds SIPp options (call counts, Call-ID format). */
function callers(number: string, ending: string, extra: string[] = [], values: Record<string, string> = {}) {
  const index = nextPeer++;
  const file = scenario('uac-call.xml', { DTMF_PLAY: '', ENDING: ending, ...values });
  return sipp(['-sf', file, `127.0.0.1:${sipUdpPort(server)}`, '-s', number, '-p', String(29600 + index), '-mp', String(29620 + index * 40),
    ...extra], { timeoutSeconds: 30 });
}

describe('call correctness under real SIPp callers', () => {
  it('two calls from one caller whose Call-IDs share a long prefix are two participants, neither replaced', async () => {
    // A PBX numbering its Call-IDs: the same first twelve characters for every call.
    // No pause after the ACK: SIPp aborts a call whose BYE arrives during one.
    const peer = callers('4300', awaitByeSteps(15_000), ['-m', '2', '-l', '2', '-r', '10', '-cid_str', 'PBXCALLIDXYZ-%u-%p@%s'],
      { ACK_PAUSE_MS: '0' });
    const both = await eventually(() => participants(server, 'twice'), (list) => list.length === 2, 4000, 'both calls in the room');
    expect(new Set(both.map((p) => p.identity)).size).toBe(2);
    // The caller's number is an attribute (and the name), not the identity's uniqueness.
    for (const p of both) expect(p.identity).toContain('15550100');
    const inRoom = (await calls(server)).filter((call) => call.room === 'twice');
    expect(inRoom.map((call) => call.state)).toEqual(['active', 'active']);
    expect((await rest(server, 'DELETE', '/api/v1/rooms/twice')).status).toBe(204);
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    expect((await calls(server)).filter((call) => call.room === 'twice').map((call) => call.endReason)).toEqual(['room-closed', 'room-closed']);
  });

  it('sixteen concurrent calls into one room add one room listener, not one each, and leave none behind', async () => {
    expect((await rest(server, 'POST', '/api/v1/rooms', { name: 'burst' })).status).toBe(201);
    const room = server.rooms.find('burst')!;
    const closeListeners = room.listenerCount('close');
    const peer = callers('4301', byeSteps(3000), ['-m', '16', '-l', '16', '-r', '100']);
    await eventually(() => participants(server, 'burst'), (list) => list.length === 16, 10_000, 'sixteen callers in the room');
    // The room's bridge and the calls: one listener each, whatever the number of calls.
    expect(room.listenerCount('close')).toBeLessThanOrEqual(closeListeners + 2);
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    await eventually(() => participants(server, 'burst'), (list) => list.length === 0, 5000, 'the callers to leave');
    await eventually(() => room.listenerCount('close'), (count) => count === closeListeners, 5000, 'the room listeners to go');
    expect(warnings.filter((warning) => warning.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });

  it('callers hanging up right after their ACK, each into a room of its own, end as normal remote hang-ups', async () => {
    const peer = callers('4303', byeSteps(0), ['-m', '40', '-l', '16', '-r', '20'], { ACK_PAUSE_MS: '0' });
    const { code, out } = await peer.result;
    expect(code, out).toBe(0);
    const ended = await eventually(async () => (await calls(server)).filter((call) => call.room.startsWith('fresh-')),
      (list) => list.length === 40 && list.every((call) => call.state === 'ended'), 5000, 'forty ended calls');
    expect(ended.map((call) => call.endReason)).toEqual(Array(40).fill('remote-hangup'));
    expect(server.rooms.list().filter((room) => room.name.startsWith('fresh-')).flatMap((room) => room.participants)).toEqual([]);
  });

  it('a room whose phones all left hands its mixer thread to the next room, whose first caller then waits for no thread start', async () => {
    const first = callers('4300', byeSteps(300), [], { ACK_PAUSE_MS: '0' });
    const bridge = await eventually(() => server.sipCalls!.audioBridge('twice'), (b) => b !== undefined, 5000, 'the first room\'s mixer');
    const thread = bridge!.mixer;
    expect((await first.result).code).toBe(0);
    await eventually(() => server.sipCalls!.audioBridge('twice'), (b) => b === undefined, 5000, 'the first room\'s bridge to close');
    const second = callers('4301', byeSteps(300), [], { ACK_PAUSE_MS: '0' });
    const next = await eventually(() => server.sipCalls!.audioBridge('burst'), (b) => b !== undefined, 5000, 'the second room\'s mixer');
    expect(next!.mixer).toBe(thread);
    expect((await second.result).code).toBe(0);
  });

  it('answers 100 Trying at once, while a new room and its mixer are still being set up', async () => {
    const phone = await SipServer.start({ host: '127.0.0.1', udpPort: 0, tcpPort: null, domain: '127.0.0.1', users: [] }, pino({ level: 'silent' }));
    try {
      const sdp = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 29990 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
      const started = performance.now();
      const call = phone.userAgent.sendInvite(`sip:4303@127.0.0.1:${sipUdpPort(server)}`, sdp, { from: 'sip:+15550199@127.0.0.1' });
      const trying = await new Promise<number>((resolve, reject) => {
        call.on('provisional', (status) => {
          if (status === 100) resolve(performance.now() - started);
        });
        call.once('answered', () => reject(new Error('answered without a 100 Trying first')));
        call.once('failed', (status) => reject(new Error(`failed ${status}`)));
      });
      const answered = await new Promise<number>((resolve) => call.once('answered', () => resolve(performance.now() - started)));
      console.log(`100 Trying after ${trying.toFixed(0)} ms, 200 OK after ${answered.toFixed(0)} ms`);
      // RFC 3261's 200 ms timer would send it only after setup had run that long.
      expect(trying).toBeLessThan(150);
      await call.bye();
    } finally {
      await phone.close();
    }
  });
});
