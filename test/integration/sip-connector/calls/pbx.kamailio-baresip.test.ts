import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { TrunkRegistrationStatus } from '../../../../sip-connector/calls/TrunkRegistrations.js';
import type { SipCallInfo } from '../../../../sip-connector/calls/SipCallTypes.js';
import {
  SIP_FIXTURES, calls, configure, eventually, expectNothingLeft, participants, rest, startBaresip, startSipServer,
  type Baresip,
} from '../../../support/sipCalls.js';
import { scratchDir, spawnPeer, stopAllPeers, waitFor, type Peer } from '../peers.js';

const KAM_PORT = 27160;
const PASSWORD = 'pbx-secret';
const BARESIP = { sip: 27170, ctrl: 27175, rtpMin: 27180, rtpMax: 27199 };

let dir: string;
let kamailio: Peer;
let baresip: Baresip;
let server: ConfluxServer;

/** Kamailio forks: stop its main process through the PID file and wait until it is gone. */
async function stopKamailio(): Promise<void> {
  const pidFile = join(dir, 'kam.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
    const start = Date.now();
    while (Date.now() - start < 5000) {
      try { process.kill(pid, 0); } catch { break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await kamailio?.stop();
}

function registrations(): string {
  return execFileSync('kamcmd', ['-s', `unix:${join(dir, 'ctl')}`, 'ul.dump'], { encoding: 'utf8', timeout: 5000 });
}

beforeAll(async () => {
  dir = scratchDir('kamailio-pbx');
  // Kamailio as the PBX: digest-authenticated REGISTER for every extension, calls relayed to registered contacts.
  const cfg = readFileSync(join(SIP_FIXTURES, 'kamailio/kamailio.cfg'), 'utf8')
    .replaceAll('@PORT@', String(KAM_PORT)).replaceAll('@CTL@', join(dir, 'ctl')).replaceAll('@PASSWORD@', PASSWORD);
  writeFileSync(join(dir, 'kamailio.cfg'), cfg);
  kamailio = spawnPeer('kamailio', ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-w', dir, '-Y', dir, '-P', join(dir, 'kam.pid')],
    { timeoutMs: 120_000 });
  await waitFor(() => existsSync(join(dir, 'kam.pid')), 10_000, 'kamailio start');
  await new Promise((r) => setTimeout(r, 500));
  server = await startSipServer();
  // A softphone registered to the PBX as extension 1001.
  baresip = await startBaresip(`<sip:1001@127.0.0.1:${KAM_PORT}>;auth_pass=${PASSWORD};regint=60;audio_codecs=PCMU`, BARESIP, 110_000);
});

afterAll(async () => {
  await baresip?.stop();
  await server?.close();
  await stopKamailio();
  await stopAllPeers();
});

describe('Kamailio as PBX: the product registers as extension 2000, baresip (extension 1001) calls it', () => {
  it('keeps the trunk registered and shows it over REST', async () => {
    await configure(server, 'outbound-trunks', {
      id: 'pbx', name: 'Kamailio PBX', host: '127.0.0.1', port: KAM_PORT, transport: 'udp', fromNumber: '2000',
      auth: { username: '2000', password: PASSWORD }, register: true, registerExpiresSeconds: 120,
    });
    const [registration] = await eventually(
      async () => (await rest<{ registrations: TrunkRegistrationStatus[] }>(server, 'GET', '/api/v1/sip/registrations')).body.registrations,
      (list) => list[0]?.state !== 'registering', 10_000, 'the trunk registration');
    expect(registration).toMatchObject({ trunkId: 'pbx', state: 'registered', aor: 'sip:2000@127.0.0.1', lastStatus: 200 });
    expect(registration!.expiresSec).toBeGreaterThan(0);
    // The PBX's location table holds extension 2000 pointing at our SIP port.
    expect(registrations()).toMatch(new RegExp(`AoR: 2000\\s[^}]*Address: sip:conflux@127\\.0\\.0\\.1:${server.sip!.ports.udp}\\s`));
  });

  it('routes the extension call through Kamailio into the room the callee rule picks, until baresip hangs up', async () => {
    await configure(server, 'inbound-trunks', { id: 'pbx-in', name: 'from the PBX', allowedAddresses: ['127.0.0.1'], codecs: ['PCMU'] });
    await configure(server, 'dispatch-rules', { id: 'ext', name: 'extension rooms', type: 'callee', roomPrefix: 'pbx-', numbers: ['2000'] });
    // baresip registers at start-up, possibly before its control socket is connected: ask the PBX instead.
    await eventually(registrations, (dump) => /AoR: 1001\s/.test(dump), 10_000, 'extension 1001 to register');

    baresip.command('dial', `sip:2000@127.0.0.1:${KAM_PORT}`);
    await eventually(() => baresip.events, (events) => events.includes('CALL_ESTABLISHED') || events.includes('CALL_CLOSED'), 10_000,
      'baresip to get through');
    expect(baresip.events, baresip.peer.output().slice(-2000)).toContain('CALL_ESTABLISHED');

    const [phone, ...others] = await eventually(() => participants(server, 'pbx-2000'), (list) => list.length > 0, 5000,
      'a participant in room pbx-2000');
    expect(others).toHaveLength(0);
    expect(phone).toMatchObject({ kind: 'sip' });
    expect(phone!.attributes).toMatchObject({ 'sip.trunk': 'pbx-in', 'sip.rule': 'ext', 'sip.direction': 'inbound' });
    expect(phone!.attributes['sip.from']).toContain('1001@');
    const [call] = (await calls(server)).filter((c) => c.state === 'active');
    expect(call).toMatchObject({ direction: 'inbound', room: 'pbx-2000', codec: 'PCMU', participantId: phone!.id });
    await eventually(() => participants(server, 'pbx-2000'), (list) => (list[0]?.producers.length ?? 0) > 0, 5000, 'the phone producer');

    baresip.command('hangup');
    const ended = await eventually(async () => (await rest<{ call: SipCallInfo }>(server, 'GET', `/api/v1/sip/calls/${call!.id}`)).body.call,
      (info) => info.state === 'ended', 5000, 'the call to end on the BYE relayed by Kamailio');
    expect(ended.endReason).toBe('remote-hangup');
    expect(await participants(server, 'pbx-2000')).toEqual([]);
    expect(await expectNothingLeft(server)).toEqual([]);
  });
});
