import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { configure, eventually, scenario, sipp } from '../support/sipCalls.js';
import { browserToneFile, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';

const DOMAIN = '127.0.0.1';
const PBX_HZ = 440;
const HZ_TOLERANCE = 25;
const EARLY_MS = 4000;

/**
 * A browser calls a number a route sends to a PBX that answers early, as one playing ringback or an
 * announcement does (SIPp: 183 with SDP and a 440 Hz PCMU stream, the 200 four seconds later).
 */
describe.each([
  { mode: 'relay' as const, sippPort: 28410, mediaPort: 28420 },
  { mode: 'ringing' as const, sippPort: 28450, mediaPort: 28460 },
])('early media towards a browser (sip.browserEarlyMedia: $mode)', ({ mode, sippPort, mediaPort }) => {
  let server: ConfluxServer;
  let web: SipWebPhone;
  let workDir: string;
  let toneFile: string;

  beforeAll(async () => {
    const tone = browserToneFile(`early-${mode}`, 1000);
    workDir = tone.workDir;
    // The PBX's early media: raw mu-law, what SIPp's rtp_stream sends as PCMU.
    toneFile = join(workDir, 'pbx-tone.ul');
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', toneFile, 'synth', '20', 'sine', String(PBX_HZ), 'vol', '0.3']);
    server = await startTestServer({
      sip: {
        enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN,
        users: [{ username: 'alice', password: 'alice-secret' }], browserEarlyMedia: mode,
      },
    });
    await configure(server, 'outbound-trunks', { id: 'pbx', name: 'PBX', host: DOMAIN, port: sippPort, fromNumber: '2000', codecs: ['PCMU'] });
    await configure(server, 'routes', { id: 'to-pbx', name: 'to the PBX', type: 'user-to-trunk', outboundTrunkId: 'pbx' });
    web = await SipWebPhone.launch(tone.toneFile, 'jssip');
    expect(await web.register(`ws://${DOMAIN}:${server.sip!.ports.ws}`, `sip:alice@${DOMAIN}`, 'alice-secret')).toBe('registered');
  });

  afterAll(() => stopSipE2e({ webPhones: [web], phones: [], server, workDir }));

  it(mode === 'relay'
    ? 'the browser gets a 183 with SDP and hears the PBX before the answer, then the call goes on'
    : 'the browser gets 180 Ringing only and hears nothing before the answer, then the call goes on', async () => {
    // JsSIP sends Max-Forwards 69; the PBX checks that it gets one hop less.
    const pbx = sipp(['-sf', scenario('uas-early-media.xml', { TONE: toneFile, EARLY_MS: String(EARLY_MS), MAX_FORWARDS: '68' }),
      '-p', String(sippPort), '-mp', String(mediaPort)], { timeoutSeconds: 40 });
    const started = Date.now();
    const outcome = web.call(`sip:7000@${DOMAIN}`);
    await eventually(() => web.events(), (events) => events.some((e) => e.startsWith('progress:')), 5000, 'the browser to see progress');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const early = await web.measure(1500);
    const events = await web.events();
    console.log(`${mode}: browser events before the answer`, events, 'heard', early);
    // Still before the PBX's 200.
    expect(Date.now() - started).toBeLessThan(EARLY_MS);
    expect(events).not.toContain('confirmed');
    expect(server.userCalls!.list()[0]?.state).toBe('ringing');
    if (mode === 'relay') {
      expect(events).toContain('progress:183');
      expect(early.rms).toBeGreaterThan(0.02);
      expect(Math.abs(early.dominantHz - PBX_HZ)).toBeLessThan(HZ_TOLERANCE);
    } else {
      expect(events.filter((e) => e.startsWith('progress:'))).toEqual(['progress:180']);
      expect(early.rms).toBeLessThan(0.005);
    }

    expect(await outcome).toBe('confirmed');
    await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    const answered = await web.measure(1500);
    console.log(`${mode}: heard after the answer`, answered);
    expect(answered.rms).toBeGreaterThan(0.02);
    expect(Math.abs(answered.dominantHz - PBX_HZ)).toBeLessThan(HZ_TOLERANCE);
    await web.hangup();
    const { code, out } = await pbx.result;
    expect(code, out.slice(-2000)).toBe(0);
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
    expect(server.rooms.list()).toEqual([]);
  });
});
