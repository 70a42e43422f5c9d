import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationClient } from '../../../sip-connector/sip/RegistrationClient.js';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { startKamailio, type Kamailio } from '../../support/kamailio.js';
import { SIP_FIXTURES } from '../../support/sipCalls.js';
import { pcmuSdp, scratchDir, spawnPeer, startStack, stopAllPeers, waitFor } from './peers.js';

const KAM_PORT = 26160;
let kamailio: Kamailio;
let stack: SipServer;

beforeAll(async () => {
  kamailio = await startKamailio({ port: KAM_PORT, password: 'trunkpass', name: 'kamailio' });
  stack = await startStack({ tcpPort: null, userName: 'conflux' });
});

afterAll(async () => {
  await stack?.close();
  await kamailio?.stop();
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
    const dump = kamailio.registrations();
    expect(dump).toContain(`127.0.0.1:${stack.ports.udp}`);

    let answered = 0;
    let ended = 0;
    stack.userAgent.onInvite((call) => {
      expect(call.invite.getAll('Record-Route').length).toBeGreaterThan(0);
      call.answer(pcmuSdp(41100));
      answered++;
      call.on('ended', () => { ended++; });
    });
    const sipp = spawnPeer('sipp', ['-sf', join(SIP_FIXTURES, 'sipp/uac-via-proxy.xml'), `127.0.0.1:${KAM_PORT}`, '-s', 'conflux',
      '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', '26161', '-m', '2', '-r', '5', '-nostdin', '-timeout', '20s', '-timeout_error'],
    { cwd: scratchDir('sipp-kam'), timeoutMs: 30_000 });
    expect(await sipp.exited, sipp.output() + kamailio.output().slice(-3000)).toBe(0);
    expect(answered).toBe(2);
    await waitFor(() => ended === 2, 3000, 'BYEs through the proxy');

    const unregistered = new Promise<void>((r) => client.once('unregistered', () => r()));
    await client.stop();
    await unregistered;
    const after = kamailio.registrations();
    expect(after).not.toContain(`127.0.0.1:${stack.ports.udp}`);
  });
});
