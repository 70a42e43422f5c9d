import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { toneLevels, type BaresipPhone } from '../support/baresip.js';
import { eventually } from '../support/sipCalls.js';
import { browserToneFile, startRegisteredBaresip, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';

const DOMAIN = '127.0.0.1';
const BROWSER_HZ = 1000;
const PHONE_HZ = 440;
const HZ_TOLERANCE = 25;
const USERS = [{ username: 'alice', password: 'alice-secret' }, { username: '1005', password: 'opus-secret' }];
// Ports 285xx for the phone: away from the SIP peers of the other tests.
const PHONE = { user: '1005', sipPort: 28510, ctrlPort: 28515, rtpPortMin: 28520, toneHz: PHONE_HZ, codec: 'opus' as const, lifetimeMs: 60_000 };

/** A browser and an Opus-only phone share Opus: the call carries it end to end, relayed, nothing transcoded. */
describe('SIP-WebRTC gateway with Opus on both sides (JsSIP, baresip)', () => {
  let server: ConfluxServer;
  let phone: BaresipPhone;
  let web: SipWebPhone;
  let workDir: string;

  beforeAll(async () => {
    const tone = browserToneFile('gateway-opus', BROWSER_HZ);
    workDir = tone.workDir;
    server = await startTestServer({
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: USERS },
    });
    phone = await startRegisteredBaresip(server, PHONE, USERS[1]!.password);
    web = await SipWebPhone.launch(tone.toneFile, 'jssip');
    expect(await web.register(`ws://${DOMAIN}:${server.sip!.ports.ws}`, `sip:alice@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
  });

  afterAll(() => stopSipE2e({ webPhones: [web], phones: [phone], server, workDir }));

  it('connects in Opus, relayed untranscoded, and both hear each other', async () => {
    expect(await web.call(`sip:1005@${DOMAIN}`)).toBe('confirmed');
    await phone.waitForEvent('CALL_ESTABLISHED');
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect(call).toMatchObject({ codec: 'opus' });
    expect(server.sipCalls!.get(call!.contactCallId!).codec).toBe('opus');
    await eventually(() => server.sipCalls!.describe(call!.contactCallId!), (path) => /untranscoded/.test(path), 3000, 'the phone\'s leg to relay');
    const heard = await eventually(() => web.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the browser to hear the phone');
    console.log('browser heard', heard);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await web.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.3);
    console.log('phone heard', levels.sampleRate, levels.tones);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
  });

  it('the phone calls the browser: offered Opus under the phone\'s own payload type, both hear each other', async () => {
    await web.answerIncoming();
    phone.dial(`sip:alice@${DOMAIN}:${server.sip!.ports.udp}`);
    await phone.waitForEvent('CALL_ESTABLISHED', 15_000);
    const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 10_000, 'the call to be active');
    expect(call).toMatchObject({ from: `sip:1005@${DOMAIN}`, codec: 'opus' });
    const heard = await eventually(() => web.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the browser to hear the phone');
    console.log('browser heard', heard);
    expect(Math.abs(heard.dominantHz - PHONE_HZ)).toBeLessThan(HZ_TOLERANCE);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE_HZ], 1.5, 0.3);
    console.log('phone heard', levels.tones);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
  });
});
