import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { BaresipPhone, toneLevels } from '../support/baresip.js';
import { startKamailio, type Kamailio } from '../support/kamailio.js';
import { configure, eventually, rest } from '../support/sipCalls.js';
import { browserToneFile, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';

const DOMAIN = '127.0.0.1';
// Ports 281xx: away from the SIP peers of the other tests.
const KAM_PORT = 28110;
const PBX_PASSWORD = 'pbx-secret';
const BROWSER_HZ = 1000;
const PHONE_HZ = 440;
const HZ_TOLERANCE = 25;
/** Extension 1001 of the PBX: a softphone registered to Kamailio, not to us. */
const EXTENSION = {
  user: '1001', sipPort: 28120, ctrlPort: 28125, rtpPortMin: 28130, toneHz: PHONE_HZ, lifetimeMs: 110_000,
  registrar: { port: KAM_PORT, password: PBX_PASSWORD, intervalSeconds: 60, autoAnswer: true },
};

/**
 * The ABC SBC cases: every browser call to a number goes to the PBX, and the PBX's calls to the number the
 * server registered as reach the browser. Kamailio is the PBX (registrar and proxy); the media go directly
 * between baresip and the server.
 */
describe('Routes: a browser SIP client (JsSIP) and a PBX (Kamailio) with baresip as its extension', () => {
  let kamailio: Kamailio;
  let server: ConfluxServer;
  let phone: BaresipPhone;
  let web: SipWebPhone;
  let workDir: string;

  beforeAll(async () => {
    const tone = browserToneFile('gateway-pbx', BROWSER_HZ);
    workDir = tone.workDir;
    kamailio = await startKamailio({ port: KAM_PORT, password: PBX_PASSWORD, name: 'kamailio-gateway-pbx' });
    server = await startTestServer({
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: [{ username: 'alice', password: 'alice-secret' }, { username: 'bob', password: 'never-registers' }] },
    });
    // The server is extension 2000 of the PBX, and the PBX may call it from its address.
    await configure(server, 'outbound-trunks', {
      id: 'pbx', name: 'Kamailio PBX', host: DOMAIN, port: KAM_PORT, fromNumber: '2000',
      auth: { username: '2000', password: PBX_PASSWORD }, register: true, registerExpiresSeconds: 120, codecs: ['PCMU'],
    });
    await configure(server, 'inbound-trunks', { id: 'pbx-in', name: 'from the PBX', allowedAddresses: [DOMAIN], codecs: ['PCMU'] });
    await configure(server, 'routes', { id: 'to-pbx', name: 'extensions are on the PBX', type: 'user-to-trunk', outboundTrunkId: 'pbx', prefixes: ['1'] });
    await configure(server, 'routes', { id: 'pbx-to-alice', name: 'the PBX\'s calls to 2000', type: 'trunk-to-user', trunkIds: ['pbx-in'], numbers: ['2000'], user: 'alice' });
    await eventually(kamailio.registrations, (dump) => /AoR: 2000\s/.test(dump), 10_000, 'the server to register as 2000');
    phone = await BaresipPhone.start(EXTENSION);
    await eventually(kamailio.registrations, (dump) => /AoR: 1001\s/.test(dump), 10_000, 'extension 1001 to register');
    web = await SipWebPhone.launch(tone.toneFile, 'jssip');
    expect(await web.register(`ws://${DOMAIN}:${server.sip!.ports.ws}`, `sip:alice@${DOMAIN}`, 'alice-secret')).toBe('registered');
  });

  afterAll(async () => {
    await stopSipE2e({ webPhones: [web], phones: [phone], server, workDir });
    await kamailio?.stop();
  });

  it('the browser dials 1001: out through the PBX trunk to its extension, and both hear each other', async () => {
    expect(await web.call(`sip:1001@${DOMAIN}`)).toBe('confirmed');
    await phone.waitForEvent('CALL_ESTABLISHED');
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:alice@${DOMAIN}`, to: `sip:1001@${DOMAIN}`, codec: 'PCMU' });
    const phoneLeg = server.sipCalls!.get(call!.contactCallId!);
    expect(phoneLeg).toMatchObject({ direction: 'outbound', trunkId: 'pbx', state: 'active' });
    // The PBX looked extension 1001 up and relayed our INVITE to the softphone's contact (its log).
    expect(kamailio.output()).toMatch(new RegExp(`relaying INVITE sip:1001[^@]*@127\\.0\\.0\\.1:${EXTENSION.sipPort}`));
    const heard = await web.measure(2000);
    console.log('browser heard', heard);
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await web.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.3);
    console.log('extension heard', levels);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
    expect(server.sipCalls!.get(call!.contactCallId!).endReason).not.toBeNull();
  });

  it('the extension dials 2000: the PBX calls the server, the route hands it to the browser, both hear each other', async () => {
    await web.answerIncoming();
    phone.dial(`sip:2000@${DOMAIN}:${KAM_PORT}`);
    await phone.waitForEvent('CALL_ESTABLISHED', 15_000);
    await eventually(() => web.events(), (events) => events.includes('confirmed'), 10_000, 'the browser to confirm the call');
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1001@${DOMAIN}`, to: `sip:alice@${DOMAIN}`, codec: 'PCMU' });
    // The phone's leg is the trunk's call (no room of a dispatch rule).
    expect(server.sipCalls!.list().find((leg) => leg.state === 'active')).toMatchObject({ direction: 'inbound', trunkId: 'pbx-in', ruleId: null });
    const heard = await web.measure(2000);
    console.log('browser heard', heard);
    expect(heard.rms).toBeGreaterThan(0.02);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    await eventually(() => web.events(), (events) => events.some((e) => e.startsWith('ended')), 10_000, 'the browser to see the call end');
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.3);
    console.log('extension heard', levels);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the gateway call to end');
    expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
  });

  it('a number no route takes is 404; a route to a user who is not registered is 480, to no user 404', async () => {
    expect(await web.call(`sip:5555@${DOMAIN}`)).toMatch(/^failed:.*:404$/);
    for (const [user, status] of [['bob', '480'], ['carol', '404']] as const) {
      await configure(server, 'routes', { id: `to-${user}`, name: user, type: 'trunk-to-user', trunkIds: ['pbx-in'], numbers: ['2000'], user, priority: 1 });
      try {
        phone.dial(`sip:2000@${DOMAIN}:${KAM_PORT}`);
        const closed = await phone.waitForEvent('CALL_CLOSED', 10_000);
        console.log(`call routed to ${user} closed: "${closed.param}"`);
        expect(closed.param).toContain(status);
      } finally {
        expect((await rest(server, 'DELETE', `/api/v1/sip/routes/to-${user}`)).status).toBe(204);
      }
    }
    expect(server.rooms.list()).toEqual([]);
  });
});
