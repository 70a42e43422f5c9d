import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { toneLevels, type BaresipPhone } from '../support/baresip.js';
import { eventually } from '../support/sipCalls.js';
import { browserToneFile, routerCount, startRegisteredBaresip, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';
import { writeToneWav } from '../support/toneWav.js';

const DOMAIN = '127.0.0.1';
/** dave is registered twice, from JsSIP and from SIP.js, each in a page of its own and sending its own tone. */
const DAVE_JSSIP_HZ = 1000;
const DAVE_SIPJS_HZ = 700;
const CAROL_HZ = 850;
const PHONE_HZ = 440;
const HZ_TOLERANCE = 25;
const USERS = [
  { username: 'dave', password: 'dave-secret' }, { username: 'carol', password: 'carol-secret' }, { username: '1001', password: 'phone-secret' },
];
// Ports of the phone (294xx): away from the SIP peers of the other tests.
const PHONE = { user: '1001', sipPort: 29410, ctrlPort: 29415, rtpPortMin: 29420, toneHz: PHONE_HZ, lifetimeMs: 150_000 };
const COMPLETED_ELSEWHERE = /cause=200.*Call completed elsewhere/;

describe('a user registered from two browsers (JsSIP and SIP.js): calls ring both, the first to answer takes it', () => {
  let server: ConfluxServer;
  let workDir: string;
  let daveJssip: SipWebPhone;
  let daveSipjs: SipWebPhone;
  let carol: SipWebPhone;
  let phone: BaresipPhone;

  beforeAll(async () => {
    const tone = browserToneFile('forking', DAVE_JSSIP_HZ);
    workDir = tone.workDir;
    const sipjsTone = join(workDir, `browser-${DAVE_SIPJS_HZ}.wav`);
    const carolTone = join(workDir, `browser-${CAROL_HZ}.wav`);
    writeToneWav(sipjsTone, { frequencyHz: DAVE_SIPJS_HZ, seconds: 60 });
    writeToneWav(carolTone, { frequencyHz: CAROL_HZ, seconds: 60 });
    server = await startTestServer({
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: USERS },
    });
    const ws = `ws://${DOMAIN}:${server.sip!.ports.ws}`;
    [daveJssip, daveSipjs, carol] = await Promise.all([
      SipWebPhone.launch(tone.toneFile, 'jssip'), SipWebPhone.launch(sipjsTone, 'sip.js'), SipWebPhone.launch(carolTone, 'jssip'),
    ]);
    expect(await daveJssip.register(ws, `sip:dave@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
    expect(await daveSipjs.register(ws, `sip:dave@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
    expect(await carol.register(ws, `sip:carol@${DOMAIN}`, USERS[1]!.password)).toBe('registered');
    phone = await startRegisteredBaresip(server, PHONE, USERS[2]!.password);
  });

  afterAll(() => stopSipE2e({ webPhones: [daveJssip, daveSipjs, carol], phones: [phone], server, workDir }));

  it('a phone calls dave: both browsers ring, SIP.js answers, JsSIP is cancelled as completed elsewhere, and the phone and SIP.js hear each other', async () => {
    await Promise.all([daveJssip.ringOnly(), daveSipjs.ringOnly()]);
    phone.dial(`sip:dave@${DOMAIN}:${server.sip!.ports.udp}`);
    await eventually(() => daveJssip.events(), (events) => events[0] === 'incoming:1001', 10_000, 'JsSIP to ring');
    await eventually(() => daveSipjs.events(), (events) => events[0] === 'incoming:1001', 10_000, 'SIP.js to ring');
    await phone.waitForEvent('CALL_RINGING', 5000);
    await daveSipjs.answer();
    await phone.waitForEvent('CALL_ESTABLISHED', 15_000);
    const cancelled = await eventually(() => daveJssip.events(), (events) => events.some((e) => e.startsWith('cancelled:')), 5000,
      'JsSIP to be cancelled');
    expect(cancelled.find((e) => e.startsWith('cancelled:'))).toMatch(COMPLETED_ELSEWHERE);
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1001@${DOMAIN}`, to: `sip:dave@${DOMAIN}` });
    const heard = await daveSipjs.measure(2500);
    console.log('SIP.js heard', heard);
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    const levels = toneLevels(await phone.lastRecording(), [DAVE_SIPJS_HZ, DAVE_JSSIP_HZ, PHONE_HZ], 2, 0.5);
    console.log('phone heard', levels);
    expect(levels.tones[DAVE_SIPJS_HZ]).toBeGreaterThan(0.05);
    // The losing browser never sent anything into the call.
    expect(levels.tones[DAVE_JSSIP_HZ]).toBeLessThan(levels.tones[DAVE_SIPJS_HZ]! / 10);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
    expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private router to close')).toBe(0);
  });

  it('carol\'s browser calls dave: both ring, JsSIP answers, SIP.js is cancelled, and carol and JsSIP hear each other', async () => {
    await Promise.all([daveJssip.ringOnly(), daveSipjs.ringOnly()]);
    const outcome = carol.call(`sip:dave@${DOMAIN}`);
    await eventually(() => daveJssip.events(), (events) => events[0] === 'incoming:carol', 10_000, 'JsSIP to ring');
    await eventually(() => daveSipjs.events(), (events) => events[0] === 'incoming:carol', 10_000, 'SIP.js to ring');
    await daveJssip.answer();
    expect(await outcome).toBe('confirmed');
    const cancelled = await eventually(() => daveSipjs.events(), (events) => events.some((e) => e.startsWith('cancelled:')), 5000,
      'SIP.js to be cancelled');
    expect(cancelled.find((e) => e.startsWith('cancelled:'))).toMatch(COMPLETED_ELSEWHERE);
    const [carolHeard, daveHeard] = [await carol.measure(2500), await daveJssip.measure(2500)];
    console.log('carol heard', carolHeard, 'dave (JsSIP) heard', daveHeard);
    expect(Math.abs(carolHeard.dominantHz - DAVE_JSSIP_HZ)).toBeLessThan(HZ_TOLERANCE);
    expect(Math.abs(daveHeard.dominantHz - CAROL_HZ)).toBeLessThan(HZ_TOLERANCE);
    await carol.hangup();
    await eventually(() => daveJssip.events(), (events) => events.some((e) => e.startsWith('ended')), 5000, 'dave to see the call end');
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
    expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private router to close')).toBe(0);
  });

  it('when every browser refuses, the caller hears the refusal that says most: a decline (603) over a busy (486)', async () => {
    await Promise.all([daveJssip.ringOnly(), daveSipjs.ringOnly()]);
    phone.dial(`sip:dave@${DOMAIN}:${server.sip!.ports.udp}`);
    await eventually(() => daveJssip.events(), (events) => events[0] === 'incoming:1001', 10_000, 'JsSIP to ring');
    await eventually(() => daveSipjs.events(), (events) => events[0] === 'incoming:1001', 10_000, 'SIP.js to ring');
    await daveSipjs.decline(603);
    // One refusal is not the end while another browser rings.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(phone.eventTypes).not.toContain('CALL_CLOSED');
    await daveJssip.decline(486);
    const closed = await phone.waitForEvent('CALL_CLOSED', 10_000);
    console.log('the phone was told', closed.param);
    expect(closed.param).toMatch(/603/);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
    expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private router to close')).toBe(0);
  });
});
