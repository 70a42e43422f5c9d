import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationClient } from '../../../sip-connector/sip/RegistrationClient.js';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { pcmuSdp, scratchDir, spawnPeer, startStack, stopAllPeers, waitFor, type Peer } from './peers.js';

const KAM_PORT = 26160;
const FIXTURES = resolve(import.meta.dirname, '../../fixtures/sip');
let dir: string;
let kamailio: Peer;
let stack: SipServer;

/** Stops Kamailio through its PID file (its main process forks children) and waits until it is gone. */
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

beforeAll(async () => {
  dir = scratchDir('kamailio');
  const cfg = readFileSync(join(FIXTURES, 'kamailio/kamailio.cfg'), 'utf8')
    .replaceAll('@PORT@', String(KAM_PORT)).replaceAll('@CTL@', join(dir, 'ctl')).replaceAll('@PASSWORD@', 'trunkpass');
  writeFileSync(join(dir, 'kamailio.cfg'), cfg);
  kamailio = spawnPeer('kamailio', ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-w', dir, '-Y', dir, '-P', join(dir, 'kam.pid')],
    { timeoutMs: 120_000 });
  await waitFor(() => /INFO.*(init_tcp|listening on)|Listening on/i.test(kamailio.output()) || existsSync(join(dir, 'kam.pid')), 10_000, 'kamailio start');
  await new Promise((r) => setTimeout(r, 500));
  stack = await startStack({ tcpPort: null, userName: 'conflux' });
});

afterAll(async () => {
  await stack?.close();
  await stopKamailio();
  await stopAllPeers();
});

describe('registration with Kamailio', () => {
  it('fails with the wrong password and backs off', async () => {
    const client = new RegistrationClient(stack.userAgent, {
      registrar: `sip:127.0.0.1:${KAM_PORT}`, aor: 'sip:conflux@127.0.0.1',
      credentials: { username: 'conflux', password: 'wrong' }, expiresSec: 120, retryMinMs: 60_000,
    });
    const failure = new Promise<[number, number]>((r) => client.once('failed', (s, _reason, retry) => r([s, retry])));
    client.start();
    const [status, retry] = await failure;
    expect(status).toBe(401);
    expect(retry).toBeGreaterThanOrEqual(48_000);
    await client.stop();
  });

  it('registers with digest, receives a call routed by Kamailio, and unregisters', async () => {
    const client = new RegistrationClient(stack.userAgent, {
      registrar: `sip:127.0.0.1:${KAM_PORT}`, aor: 'sip:conflux@127.0.0.1',
      credentials: { username: 'conflux', password: 'trunkpass' }, expiresSec: 120,
    });
    stack.adoptRegistration(client);
    const registered = new Promise<number>((r) => client.once('registered', r));
    client.start();
    expect(await registered).toBeGreaterThan(0);
    const dump = execFileSync('kamcmd', ['-s', `unix:${join(dir, 'ctl')}`, 'ul.dump'], { encoding: 'utf8' });
    expect(dump).toContain(`127.0.0.1:${stack.ports.udp}`);

    let answered = 0;
    let ended = 0;
    stack.userAgent.onInvite((call) => {
      expect(call.invite.getAll('Record-Route').length).toBeGreaterThan(0);
      call.answer(pcmuSdp(41100));
      answered++;
      call.on('ended', () => { ended++; });
    });
    const sipp = spawnPeer('sipp', ['-sf', join(FIXTURES, 'sipp/uac-via-proxy.xml'), `127.0.0.1:${KAM_PORT}`, '-s', 'conflux',
      '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', '26161', '-m', '2', '-r', '5', '-nostdin', '-timeout', '20s', '-timeout_error'],
    { cwd: scratchDir('sipp-kam'), timeoutMs: 30_000 });
    expect(await sipp.exited, sipp.output() + kamailio.output().slice(-3000)).toBe(0);
    expect(answered).toBe(2);
    await waitFor(() => ended === 2, 3000, 'BYEs through the proxy');

    const unregistered = new Promise<void>((r) => client.once('unregistered', () => r()));
    await client.stop();
    await unregistered;
    const after = execFileSync('kamcmd', ['-s', `unix:${join(dir, 'ctl')}`, 'ul.dump'], { encoding: 'utf8' });
    expect(after).not.toContain(`127.0.0.1:${stack.ports.udp}`);
  });
});
