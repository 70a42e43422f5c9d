import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../support/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { RELAY_MIXER_LABEL } from '../../sip-connector/calls/SipCallManager.js';
import { toneLevels, type BaresipPhone } from '../support/baresip.js';
import { ownUdpSockets } from '../support/processSockets.js';
import { eventually, participants, rest } from '../support/sipCalls.js';
import type { DialOutResult } from '../../sip-connector/calls/SipCallTypes.js';
import { browserToneFile, startRegisteredBaresip, routerCount, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone, type SipLibrary } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';

const DOMAIN = '127.0.0.1';
const BROWSER_HZ = 1000;
const PHONE_HZ = 440;
const USERS = [
  { username: 'alice', password: 'alice-secret' }, { username: '1001', password: 'phone-secret' }, { username: 'bob', password: 'never-registers' },
  { username: '1002', password: 'other-phone-secret' },
];
// Ports of the phone (287xx): away from the SIP peers of the other tests.
const PHONE = { user: '1001', sipPort: 28710, ctrlPort: 28715, rtpPortMin: 28720, toneHz: PHONE_HZ, lifetimeMs: 170_000 };
const HZ_TOLERANCE = 25;
/** A second phone, 1002: where the browser transfers the first one. */
const OTHER_PHONE_HZ = 660;
const OTHER_PHONE = { user: '1002', sipPort: 28780, ctrlPort: 28785, rtpPortMin: 28790, toneHz: OTHER_PHONE_HZ, lifetimeMs: 60_000 };

/** baresip as an extension (1001 unless told), registered to the server over UDP and answering every call. */
function registeredPhone(server: ConfluxServer, ports: typeof PHONE): Promise<BaresipPhone> {
  return startRegisteredBaresip(server, ports, USERS.find((user) => user.username === ports.user)!.password);
}

/** For afterAll: the page (and a browser of the test's own), the phone, every other peer, the server, the directory. */
function stopAll(parts: { web?: SipWebPhone; browser?: Browser; phone?: BaresipPhone; server?: ConfluxServer; workDir?: string }): Promise<void> {
  return stopSipE2e({ webPhones: [parts.web], chromium: parts.browser, phones: [parts.phone], server: parts.server, workDir: parts.workDir });
}

/** A narrow RTC range: the phone leg's socket must land in it. */
const RTC_PORTS = { min: 46200, max: 46299 };

describe.each<SipLibrary>(['jssip', 'sip.js'])('SIP-WebRTC gateway: %s in Chromium (WebSocket, DTLS-SRTP) and baresip registered over UDP', (library) => {
  let server: ConfluxServer;
  let workDir: string;
  let web: SipWebPhone;
  let phone: BaresipPhone;
  let idleSockets: string[];

  beforeAll(async () => {
    const tone = browserToneFile('gateway', BROWSER_HZ);
    workDir = tone.workDir;
    server = await startTestServer({
      rtc: { minPort: RTC_PORTS.min, maxPort: RTC_PORTS.max },
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: USERS },
    });
    idleSockets = ownUdpSockets();
    phone = await registeredPhone(server, PHONE);
    web = await SipWebPhone.launch(tone.toneFile, library);
    expect(await web.register(`ws://${DOMAIN}:${server.sip!.ports.ws}`, `sip:alice@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
  });

  afterAll(() => stopAll({ web, phone, server, workDir }));

  it('connects the call: both hear each other, hold and resume, keys both ways; the browser hanging up ends it', async () => {
    const outcome = await web.call(`sip:1001@${DOMAIN}`);
    expect(outcome, `${outcome}\n${phone.output().slice(-2000)}`).toBe('confirmed');
    // The phone's 180 reached the browser before the answer.
    const events = await web.events();
    expect(events).toContain('progress:180');
    expect(events.indexOf('progress:180')).toBeLessThan(events.indexOf('confirmed'));
    await phone.waitForEvent('CALL_ESTABLISHED');
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:alice@${DOMAIN}`, to: `sip:1001@${DOMAIN}`, codec: 'PCMU' });
    // Both ends share PCMU: the browser's audio reaches the phone as it is, on the one thread gateway calls share.
    await eventually(() => server.sipCalls!.describe(call!.contactCallId!), (path) => /^relay\(room:.*untranscoded/.test(path), 3000,
      'the phone\'s leg to relay the browser');
    expect((await server.sipCalls!.mixerThreads()).map((thread) => thread.label)).toEqual([RELAY_MIXER_LABEL]);
    // The phone leg's socket is in the RTC port range a firewall opens (here a narrow one, so chance cannot put it there).
    const newSockets = ownUdpSockets().filter((socket) => !idleSockets.includes(socket)).map((socket) => Number(socket.split(':').at(-1)));
    expect(newSockets.filter((port) => port >= RTC_PORTS.min && port <= RTC_PORTS.max)).toHaveLength(1);

    // The browser hears the phone's 440 Hz, untranscoded (a consumer of the phone's producer).
    const heard = await web.measure(2500);
    console.log('browser heard', heard);
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);

    // Hold from the browser (re-INVITE, sendonly) reaches the phone: it stops sending, the browser hears nothing.
    expect(await web.hold(true)).toBe('held');
    // JsSIP reports the hold before the re-INVITE is answered: the phone's leg is held once it is.
    await eventually(() => server.sipCalls!.get(call!.contactCallId!).onHold, (onHold) => onHold, 5000, 'the phone\'s leg on hold');
    // What was already on its way (and in the browser's jitter buffer) drains first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const held = await web.measure(1500);
    console.log('browser heard while holding', held);
    expect(held.rms).toBeLessThan(0.005);
    const phoneSource = async () => (await (await server.sipCalls!.audioBridge(call!.room))!.mixer.sourceActivity())
      .find((source) => source.sourceId === server.sipCalls!.get(call!.contactCallId!).id || source.sourceId.startsWith('out-'))!;
    const packetsWhileHeld = (await phoneSource()).packets;
    expect(await web.hold(false)).toBe('resumed');
    await eventually(() => server.sipCalls!.get(call!.contactCallId!).onHold, (onHold) => !onHold, 5000, 'the phone\'s leg resumed');
    // The phone sends again once it has the sendrecv re-INVITE (baresip restarts its source: allow it a few seconds).
    await eventually(phoneSource, (source) => source.packets > packetsWhileHeld + 25, 8000, 'the phone to send again');
    const resumed = await web.measure(2000);
    console.log('browser heard after resuming', resumed);
    expect(resumed.rms).toBeGreaterThan(0.02);
    expect(Math.abs(resumed.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);

    if (library === 'jssip') {
      // The same with the offer in an UPDATE (RFC 3311): carried to the phone before the browser is answered.
      expect(await web.hold(true, true)).toBe('held');
      await eventually(() => server.sipCalls!.get(call!.contactCallId!).onHold, (onHold) => onHold, 5000, 'the phone\'s leg on hold (UPDATE)');
      expect(await web.hold(false, true)).toBe('resumed');
      await eventually(() => server.sipCalls!.get(call!.contactCallId!).onHold, (onHold) => !onHold, 5000, 'the phone\'s leg resumed (UPDATE)');
    }

    // Keys both ways: the browser's INFO reaches the phone as RFC 4733, the phone's RFC 4733 the browser as INFO.
    await web.dtmf('5');
    const pressed = await phone.waitForEvent('CALL_DTMF_START', 5000);
    expect(pressed.param).toMatch(/5/);
    phone.sendDtmf('7');
    await eventually(() => web.events(), (events) => events.includes('dtmf:7'), 5000, 'the phone\'s key at the browser');

    // Hold from the phone's side reaches the browser too: our re-offer on the browser's own m-lines.
    phone.hold(true);
    await eventually(() => web.audioDirection(), (direction) => direction === 'recvonly', 5000, 'the browser to be held');
    phone.hold(false);
    await eventually(() => web.audioDirection(), (direction) => direction === 'sendrecv', 5000, 'the browser to be resumed');

    await new Promise((resolve) => setTimeout(resolve, 2000));
    await web.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    // The phone heard the browser's 1 kHz tone (baresip starts a new recording when its stream restarts: its last 1.5 s).
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.3);
    console.log('phone heard', levels);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);

    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
    expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
    expect(await eventually(() => ownUdpSockets(), (s) => s.length <= idleSockets.length, 5000, 'the media sockets to close'))
      .toHaveLength(idleSockets.length);
    // Nothing of the call is left in mediasoup: no router (the private room's), so no transport, producer or consumer.
    expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private room\'s router to close')).toBe(0);
  });

  it('the browser transfers the phone to another phone (REFER): told by NOTIFY, released, and the two phones hear each other', async () => {
    const other = await registeredPhone(server, OTHER_PHONE);
    try {
      expect(await web.call(`sip:1001@${DOMAIN}`)).toBe('confirmed');
      await phone.waitForEvent('CALL_ESTABLISHED');
      const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
      // A target that is not here fails in the NOTIFY; the call goes on.
      expect(await web.refer(`sip:nobody@${DOMAIN}`)).toBe('failed:404');
      expect(server.userCalls!.list()[0]?.state).toBe('active');

      expect(await web.refer(`sip:1002@${DOMAIN}`)).toBe('accepted');
      await other.waitForEvent('CALL_ESTABLISHED');
      await eventually(() => web.events(), (events) => events.includes('ended'), 5000, 'the browser to be released');
      expect(server.userCalls!.list()[0]).toMatchObject({ state: 'active', transferredTo: expect.stringContaining('1002') });
      // Phone 1001 now hears 1002 as it is: its leg relays 1002's call (an `out-` leg), not the browser's feed.
      await eventually(() => server.sipCalls!.describe(call!.contactCallId!), (path) => /^relay\(out-/.test(path), 5000,
        'phone 1001 to relay phone 1002');
      expect((await participants(server, call!.room)).length).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      other.hangup();
      await phone.waitForEvent('CALL_CLOSED', 10_000);
      const first = toneLevels(await phone.lastRecording(), [PHONE_HZ, OTHER_PHONE_HZ], 1.5, 0.3);
      const second = toneLevels(await other.lastRecording(), [PHONE_HZ, OTHER_PHONE_HZ], 1.5, 0.3);
      console.log('after the transfer, 1001 heard', first.tones, '1002 heard', second.tones);
      expect(first.tones[OTHER_PHONE_HZ]).toBeGreaterThan(0.05);
      expect(second.tones[PHONE_HZ]).toBeGreaterThan(0.05);
      await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
      expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('the phone transfers the browser to another phone (REFER): the phone is released, the browser and the new phone hear each other', async () => {
    const other = await registeredPhone(server, OTHER_PHONE);
    try {
      expect(await web.call(`sip:1001@${DOMAIN}`)).toBe('confirmed');
      await phone.waitForEvent('CALL_ESTABLISHED');
      const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
      phone.transfer(`sip:1002@${DOMAIN}`);
      await other.waitForEvent('CALL_ESTABLISHED', 10_000);
      await phone.waitForEvent('CALL_CLOSED', 10_000);
      const moved = await eventually(() => server.userCalls!.list(), (list) => list[0]?.transferredTo?.includes('1002') === true, 5000,
        'the call to name its new phone');
      expect(moved[0]).toMatchObject({ id: call!.id, state: 'active' });
      expect(await web.events()).not.toContain('ended');
      // The browser now hears 1002's tone (a new stream announced by our re-INVITE) ...
      const heard = await eventually(() => web.measure(1500), (audio) => Math.abs(audio.dominantHz - OTHER_PHONE_HZ) < HZ_TOLERANCE, 8000,
        'the browser to hear the new phone');
      console.log('after the phone\'s transfer, the browser heard', heard);
      expect(heard.rms).toBeGreaterThan(0.02);
      // ... and 1002 hears the browser.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await web.hangup();
      await other.waitForEvent('CALL_CLOSED', 10_000);
      const levels = toneLevels(await other.lastRecording(), [BROWSER_HZ, OTHER_PHONE_HZ], 1.5, 0.3);
      console.log('the new phone heard', levels.tones);
      expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
      await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
      expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('baresip calls the browser: it rings and answers, both hear each other, keys both ways; baresip hanging up ends it', async () => {
    await web.answerIncoming();
    phone.dial(`sip:alice@${DOMAIN}:${server.sip!.ports.udp}`);
    await phone.waitForEvent('CALL_ESTABLISHED', 15_000);
    await eventually(() => web.events(), (events) => events.includes('confirmed'), 10_000, 'the browser to confirm the call');
    expect((await web.events())[0]).toBe('incoming:1001');
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1001@${DOMAIN}`, to: `sip:alice@${DOMAIN}`, codec: 'PCMU' });

    const heard = await web.measure(2500);
    console.log('browser heard', heard);
    // The browser's 180 reached the phone before the answer.
    expect(phone.eventTypes.indexOf('CALL_RINGING')).toBeGreaterThanOrEqual(0);
    expect(phone.eventTypes.indexOf('CALL_RINGING')).toBeLessThan(phone.eventTypes.indexOf('CALL_ESTABLISHED'));
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    phone.sendDtmf('3');
    await eventually(() => web.events(), (events) => events.includes('dtmf:3'), 5000, 'the phone\'s key at the browser');
    await web.dtmf('9');
    expect((await phone.waitForEvent('CALL_DTMF_START', 5000)).param).toMatch(/9/);

    // The phone holds and resumes (re-INVITE): carried to the browser by a re-INVITE of ours.
    expect(await web.audioDirection()).toBe('sendrecv');
    phone.hold(true);
    await eventually(() => web.audioDirection(), (direction) => direction === 'recvonly', 5000, 'the browser to be held');
    phone.hold(false);
    await eventually(() => web.audioDirection(), (direction) => direction === 'sendrecv', 5000, 'the browser to be resumed');
    const afterResume = await web.measure(1500);
    expect(Math.abs(afterResume.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);

    // The browser, the callee here, holds and resumes on its own dialog: carried to the calling phone.
    expect(await web.hold(true)).toBe('held');
    await eventually(() => server.sipCalls!.get(call!.id).onHold, (onHold) => onHold, 5000, 'the phone\'s leg on hold');
    expect(await web.hold(false)).toBe('resumed');
    await eventually(() => server.sipCalls!.get(call!.id).onHold, (onHold) => !onHold, 5000, 'the phone\'s leg resumed');
    const afterOwnResume = await eventually(() => web.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the browser to hear the phone again');
    expect(Math.abs(afterOwnResume.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);

    await new Promise((resolve) => setTimeout(resolve, 2500));
    phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    await eventually(() => web.events(), (events) => events.some((e) => e.startsWith('ended')), 10_000, 'the browser to see the call end');
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 2, 0.5);
    console.log('phone heard', levels);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
    expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
  });

  it('REST dial-out to a registered user reaches it where it registered from, without DNS or a trunk', async () => {
    const { status, body } = await rest<DialOutResult>(server, 'POST', '/api/v1/sip/calls', { room: 'dial-user', to: `sip:1001@${DOMAIN}` });
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ outcome: 'answered', call: { trunkId: null, state: 'active', room: 'dial-user' } });
    await phone.waitForEvent('CALL_ESTABLISHED');
    expect((await participants(server, 'dial-user')).map((p) => p.kind)).toEqual(['sip']);
    expect((await rest(server, 'DELETE', `/api/v1/sip/calls/${body.call.id}`)).status).toBe(204);
    await phone.waitForEvent('CALL_CLOSED');
    expect((await rest(server, 'POST', '/api/v1/sip/calls', { room: 'dial-user', to: `sip:nobody@${DOMAIN}` })).status).toBe(404);
    expect((await rest(server, 'POST', '/api/v1/sip/calls', { room: 'dial-user', to: `sip:bob@${DOMAIN}` })).status).toBe(409);
    // alice is registered from the browser only: a room's phone leg cannot reach a WebRTC client.
    expect((await rest(server, 'POST', '/api/v1/sip/calls', { room: 'dial-user', to: `sip:alice@${DOMAIN}` })).status).toBe(422);
    expect((await rest(server, 'POST', '/api/v1/sip/calls', { room: 'dial-user', to: 'sip:1001@elsewhere.example' })).status).toBe(400);
  });

  it('refuses a call to an unknown user with 404 and to a user who is not registered with 480', async () => {
    expect(await web.call(`sip:nobody@${DOMAIN}`)).toMatch(/^failed:.*:404$/);
    expect(await web.call(`sip:bob@${DOMAIN}`)).toMatch(/^failed:.*:480$/);
    expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
  });
});

describe('SIP-WebRTC gateway over secure WebSocket (WSS): JsSIP in Chromium calls baresip', () => {
  let server: ConfluxServer;
  let workDir: string;
  let browser: Browser;
  let web: SipWebPhone;
  let phone: BaresipPhone;

  beforeAll(async () => {
    const tone = browserToneFile('gateway-wss', BROWSER_HZ);
    workDir = tone.workDir;
    // A self-signed certificate for 127.0.0.1, made for this run.
    const certFile = join(workDir, 'cert.pem');
    const keyFile = join(workDir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    server = await startTestServer({
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wssPort: 0, tls: { certFile, keyFile }, domain: DOMAIN, users: USERS },
    });
    phone = await registeredPhone(server, { ...PHONE, sipPort: 28740, ctrlPort: 28745, rtpPortMin: 28750 });
    browser = await launchBrowser({ fakeAudioFile: tone.toneFile, extraArgs: ['--ignore-certificate-errors'] });
    web = await SipWebPhone.launch(tone.toneFile, 'jssip', browser);
  });

  afterAll(() => stopAll({ web, browser, phone, server, workDir }));

  it('registers over WSS and the call carries audio both ways', async () => {
    expect(await web.register(`wss://${DOMAIN}:${server.sip!.ports.wss}`, `sip:alice@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
    expect(server.sip!.registrar.lookup('alice')[0]!.source.transport).toBe('wss');
    expect(await web.call(`sip:1001@${DOMAIN}`)).toBe('confirmed');
    await phone.waitForEvent('CALL_ESTABLISHED');
    const heard = await web.measure(2000);
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await web.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    expect(toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.5).tones[BROWSER_HZ]).toBeGreaterThan(0.05);
  });
});
