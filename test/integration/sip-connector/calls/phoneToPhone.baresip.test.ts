import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import { BaresipPhone, toneLevels, type BaresipPhoneOptions } from '../../../support/baresip.js';
import { configure, eventually, expectNothingLeft, scenario, sipp, sipUdpPort } from '../../../support/sipCalls.js';
import { startRegisteredBaresip } from '../../../support/sipE2e.js';
import { startTestServer } from '../../../support/testServer.js';
import { scratchDir, stopAllPeers } from '../peers.js';

const DOMAIN = '127.0.0.1';
const USERS = [{ username: '1001', password: 'first-secret' }, { username: '1002', password: 'second-secret' }];
// Ports 282xx: away from the SIP peers of the other tests.
const FIRST = { user: '1001', sipPort: 28210, ctrlPort: 28215, rtpPortMin: 28220, toneHz: 440, lifetimeMs: 110_000 };
const SECOND = { user: '1002', sipPort: 28240, ctrlPort: 28245, rtpPortMin: 28250, toneHz: 660, lifetimeMs: 110_000 };
/** A phone at the carrier, number 5550123: not registered here, answering calls to its number on its own address (the outbound trunk's host). */
const CARRIER: BaresipPhoneOptions = { user: '5550123', sipPort: 28270, ctrlPort: 28275, rtpPortMin: 28280, toneHz: 1000, lifetimeMs: 110_000 };
const MIN_TONE = 0.05;
/** SIPp as a PBX answering early: a 183 with SDP and a PCMU tone, its 200 `earlyMs` later. */
const EARLY_PBX = { sipPort: 28300, mediaPort: 28302, toneHz: 1200, earlyMs: 4000 };

let server: ConfluxServer;
let first: BaresipPhone;
let second: BaresipPhone;
let carrier: BaresipPhone;

/** baresip as a registered extension (UDP), answering every call. */
function extension(ports: typeof FIRST): Promise<BaresipPhone> {
  return startRegisteredBaresip(server, ports, USERS.find((user) => user.username === ports.user)!.password);
}

/** Each phone's last recording holds the other's tone. */
async function expectHeard(a: BaresipPhone, b: BaresipPhone): Promise<void> {
  const tones = [a.options.toneHz, b.options.toneHz];
  for (const phone of [a, b]) {
    const wav = await phone.lastRecording();
    console.log(`${phone.options.user}'s last recording: ${(wav.samples.length / wav.sampleRate).toFixed(2)} s`);
  }
  const [atA, atB] = [toneLevels(await a.lastRecording(), tones, 1.5, 0.3), toneLevels(await b.lastRecording(), tones, 1.5, 0.3)];
  console.log(`${a.options.user} heard`, atA.tones, `${b.options.user} heard`, atB.tones);
  expect(atA.tones[b.options.toneHz], `${b.options.user}'s tone at ${a.options.user}`).toBeGreaterThan(MIN_TONE);
  expect(atB.tones[a.options.toneHz], `${a.options.user}'s tone at ${b.options.user}`).toBeGreaterThan(MIN_TONE);
}

const liveCalls = () => server.userCalls!.list();

beforeAll(async () => {
  server = await startTestServer({
    sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, domain: DOMAIN, users: USERS, mediaTimeoutSeconds: 10 },
  });
  await configure(server, 'outbound-trunks', { id: 'carrier', name: 'Carrier', host: DOMAIN, port: CARRIER.sipPort, fromNumber: '+15550100', codecs: ['PCMU'] });
  await configure(server, 'inbound-trunks', { id: 'carrier-in', name: 'Carrier', allowedAddresses: [DOMAIN], codecs: ['PCMU'] });
  await configure(server, 'routes', {
    id: 'outside', name: 'outside line', type: 'user-to-trunk', outboundTrunkId: 'carrier', prefixes: ['9'], stripDigits: 1, callerId: 'trunk',
  });
  // A PBX that answers early (SIPp): 183 with SDP and its tone, the 200 later.
  await configure(server, 'outbound-trunks', { id: 'pbx-early', name: 'PBX', host: DOMAIN, port: EARLY_PBX.sipPort, fromNumber: '2000', codecs: ['PCMU'] });
  await configure(server, 'routes', { id: 'to-early-pbx', name: 'PBX numbers', type: 'user-to-trunk', outboundTrunkId: 'pbx-early', prefixes: ['8'] });
  await configure(server, 'routes', { id: 'reception', name: 'reception', type: 'trunk-to-user', trunkIds: ['carrier-in'], numbers: ['3000'], user: '1002' });
  // A room behind a PIN that registered phones dial by its number.
  await configure(server, 'dispatch-rules', { id: 'pin-room', name: 'PIN room', type: 'direct', room: 'pin-room', numbers: ['7000'], pin: '2468' });
  first = await extension(FIRST);
  second = await extension(SECOND);
  carrier = await BaresipPhone.start(CARRIER);
});

afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop(), carrier?.stop()]);
  await stopAllPeers();
  await server?.close();
});

afterEach(async () => {
  await Promise.all([first, second, carrier].map((phone) => phone?.ensureHungUp().catch(() => undefined)));
  await eventually(liveCalls, (list) => list.length === 0, 5000, 'no call in progress');
  expect(server.rooms.list().map((room) => room.name)).toEqual([]);
  expect(await expectNothingLeft(server)).toEqual([]);
});

describe('phone to phone, relayed untranscoded through a private room', () => {
  it('extension 1001 calls 1002: both hear each other, keys cross both ways, the callee hanging up ends both', async () => {
    first.dial(`sip:1002@${DOMAIN}:${sipUdpPort(server)}`);
    await first.waitForEvent('CALL_ESTABLISHED', 10_000);
    await second.waitForEvent('CALL_ESTABLISHED', 10_000);
    const [call] = await eventually(liveCalls, (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1001@${DOMAIN}`, to: `sip:1002@${DOMAIN}`, codec: 'PCMU' });
    // Both legs relay each other, no mixer of the room's own.
    const legs = server.sipCalls!.list().filter((leg) => leg.room === call!.room && leg.state === 'active');
    expect(legs).toHaveLength(2);
    for (const leg of legs) expect(await server.sipCalls!.describe(leg.id)).toMatch(/^relay\(/);
    await new Promise((resolve) => setTimeout(resolve, 2500));

    first.sendDtmf('4');
    expect((await second.waitForEvent('CALL_DTMF_START', 5000)).param).toMatch(/4/);
    second.sendDtmf('8');
    expect((await first.waitForEvent('CALL_DTMF_START', 5000)).param).toMatch(/8/);

    second.hangup();
    await first.waitForEvent('CALL_CLOSED', 10_000);
    await second.waitForEvent('CALL_CLOSED', 10_000);
    await expectHeard(first, second);
    await eventually(liveCalls, (list) => list.length === 0, 5000, 'the call to end');
    expect(server.sipCalls!.get(call!.id).state).toBe('ended');
  });

  it('1001 holds and resumes: 1002 is re-offered sendonly, then sendrecv; the caller hanging up ends both', async () => {
    first.dial(`sip:1002@${DOMAIN}:${sipUdpPort(server)}`);
    await first.waitForEvent('CALL_ESTABLISHED', 10_000);
    const [call] = await eventually(liveCalls, (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    const calleeLeg = call!.contactCallId!;
    expect(server.sipCalls!.get(calleeLeg).onHold).toBe(false);
    first.hold(true);
    await eventually(() => server.sipCalls!.get(calleeLeg).onHold, (held) => held, 5000, '1002 to be held');
    expect(server.sipCalls!.get(call!.id).onHold).toBe(true);
    first.hold(false);
    await eventually(() => server.sipCalls!.get(calleeLeg).onHold, (held) => !held, 5000, '1002 to be resumed');
    first.hangup();
    await second.waitForEvent('CALL_CLOSED', 10_000);
    await eventually(liveCalls, (list) => list.length === 0, 5000, 'the call to end');
  });

  it('1001 dials 9 5550123: the outside-line route calls the carrier with 5550123 and the trunk\'s number, both hear each other', async () => {
    first.dial(`sip:95550123@${DOMAIN}:${sipUdpPort(server)}`);
    await first.waitForEvent('CALL_ESTABLISHED', 10_000);
    // callerId "trunk": the carrier sees the trunk's number calling, not the extension.
    const answered = await carrier.waitForEvent('CALL_ESTABLISHED', 10_000);
    console.log('the carrier saw', answered.param);
    expect(answered.param).toContain('+15550100');
    const [call] = await eventually(liveCalls, (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1001@${DOMAIN}`, to: `sip:5550123@${DOMAIN}` });
    expect(server.sipCalls!.get(call!.contactCallId!)).toMatchObject({ trunkId: 'carrier', to: expect.stringContaining(`sip:5550123@${DOMAIN}:${CARRIER.sipPort}`) });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    first.hangup();
    await carrier.waitForEvent('CALL_CLOSED', 10_000);
    await expectHeard(first, carrier);
  });

  it('the carrier calls 3000: the reception route rings extension 1002, both hear each other', async () => {
    carrier.dial(`sip:3000@${DOMAIN}:${sipUdpPort(server)}`);
    await carrier.waitForEvent('CALL_ESTABLISHED', 10_000);
    const [call] = await eventually(liveCalls, (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:5550123@${DOMAIN}`, to: `sip:1002@${DOMAIN}`, codec: 'PCMU' });
    expect(server.sipCalls!.get(call!.id)).toMatchObject({ trunkId: 'carrier-in', ruleId: null });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    carrier.hangup();
    await second.waitForEvent('CALL_CLOSED', 10_000);
    await expectHeard(carrier, second);
  });

  it('1001 dials 8000, a PBX that answers early: 1001 gets a 183 and hears the PBX before its 200, then the call goes on', async () => {
    const toneFile = join(scratchDir('early-pbx'), 'tone.ul');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', toneFile, 'synth', '20', 'sine', String(EARLY_PBX.toneHz), 'vol', '0.3']);
    const pbx = sipp(['-sf', scenario('uas-early-media.xml', { TONE: toneFile, EARLY_MS: String(EARLY_PBX.earlyMs), MAX_FORWARDS: '69' }),
      '-p', String(EARLY_PBX.sipPort), '-mp', String(EARLY_PBX.mediaPort)], { timeoutSeconds: 30 });
    first.dial(`sip:8000@${DOMAIN}:${sipUdpPort(server)}`);
    const progress = await first.waitForEvent('CALL_PROGRESS', 5000);
    const established = await first.waitForEvent('CALL_ESTABLISHED', 10_000);
    // The 183 came well before the PBX's 200 (and the PBX got baresip's Max-Forwards 70 less our hop: it checks).
    expect(established.at - progress.at).toBeGreaterThan(EARLY_PBX.earlyMs - 1500);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    first.hangup();
    expect((await pbx.result).code).toBe(0);
    await first.waitForEvent('CALL_CLOSED', 10_000);
    // baresip records from its stream's start, at the 183: the recording's first seconds are the early media.
    const wav = await first.lastRecording();
    const beforeAnswer = toneLevels({ samples: wav.samples.subarray(0, Math.round(3 * wav.sampleRate)), sampleRate: wav.sampleRate },
      [EARLY_PBX.toneHz, FIRST.toneHz], 2, 0.2);
    console.log('1001 heard before the answer', beforeAnswer.tones);
    expect(beforeAnswer.tones[EARLY_PBX.toneHz]).toBeGreaterThan(MIN_TONE);
  });
});

describe('a registered phone dialling a room', () => {
  it('1001 dials a room with a PIN: answered, kept out of the room until it keys the PIN, then in it until the room closes', async () => {
    first.dial(`sip:7000@${DOMAIN}:${sipUdpPort(server)}`);
    await first.waitForEvent('CALL_ESTABLISHED', 10_000);
    const inRoom = () => server.sipCalls!.list().filter((call) => call.room === 'pin-room' && call.state !== 'ended');
    const [call] = await eventually(inRoom, (list) => list[0]?.state === 'pin', 5000, 'the call at the PIN prompt');
    expect(call).toMatchObject({ ruleId: 'pin-room', from: expect.stringMatching(/^sip:1001@127\.0\.0\.1\b/) });
    expect(server.rooms.find('pin-room')?.participants ?? []).toEqual([]);
    // A wrong PIN costs an attempt and admits no one.
    for (const digit of '1111#') {
      first.sendDtmf(digit);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server.sipCalls!.get(call!.id).state).toBe('pin');
    for (const digit of '2468#') {
      first.sendDtmf(digit);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await eventually(() => server.sipCalls!.get(call!.id).state, (state) => state === 'active', 10_000, 'the PIN to admit the phone');
    expect(server.rooms.find('pin-room')!.participants.map((p) => p.attributes['sip.from'])).toEqual([call!.from]);
    server.rooms.delete('pin-room');
    await first.waitForEvent('CALL_CLOSED', 10_000);
    expect(server.sipCalls!.get(call!.id).endReason).toBe('room-closed');
  });
});
