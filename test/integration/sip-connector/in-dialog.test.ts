import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingCall } from '../../../sip-connector/sip/IncomingCall.js';
import type { OutgoingCall } from '../../../sip-connector/sip/OutgoingCall.js';
import { OptionsKeepAlive } from '../../../sip-connector/sip/OptionsKeepAlive.js';
import { SipServer } from '../../../sip-connector/SipServer.js';
import { pcmuSdp, scratchDir, startStack, testLogger, waitFor } from './peers.js';

let a: SipServer;
let b: SipServer;
let lastIncoming: IncomingCall | undefined;

beforeAll(async () => {
  a = await startStack({ userName: 'alice' });
  b = await startStack({ userName: 'bob' });
  b.userAgent.onInvite((call) => {
    lastIncoming = call;
    call.progress(pcmuSdp(42002), { reliable: true });
    setTimeout(() => call.answer(pcmuSdp(42002)), 100);
  });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

async function connect(transport: 'udp' | 'tcp', opts: { sessionExpiresSec?: number } = {}): Promise<{ out: OutgoingCall; inc: IncomingCall }> {
  const target = transport === 'udp' ? `sip:bob@127.0.0.1:${b.ports.udp}` : `sip:bob@127.0.0.1:${b.ports.tcp};transport=tcp`;
  const out = a.userAgent.sendInvite(target, pcmuSdp(42000), opts);
  const early: string[] = [];
  out.on('earlyMedia', (sdp) => early.push(sdp));
  await new Promise<void>((res, rej) => {
    out.once('answered', () => res());
    out.once('failed', (s, r) => rej(new Error(`${s} ${r}`)));
  });
  expect(early).toHaveLength(1);
  const inc = lastIncoming as IncomingCall;
  await new Promise<void>((r) => (inc.state === 'confirmed' ? setTimeout(r, 50) : r()));
  return { out, inc };
}

describe('in-dialog requests between two stacks', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`${transport}: reliable 183 with PRACK, re-INVITE, UPDATE, INFO DTMF, REFER/NOTIFY, OPTIONS, BYE`, async () => {
      const { out, inc } = await connect(transport);
      expect(out.dialog?.state).toBe('confirmed');

      const remote: string[] = [];
      inc.on('remoteSdp', (s) => remote.push(s));
      const re = await out.reinvite(pcmuSdp(42010));
      expect(re.status).toBe(200);
      expect(re.sdp).toContain('m=audio 42002');
      await waitFor(() => remote.length === 1, 2000, 're-INVITE offer at the callee');

      const up = await inc.update(pcmuSdp(42020));
      expect(up.status).toBe(200);
      expect(out.remoteSdp).toContain('m=audio 42020');

      const digits: string[] = [];
      inc.on('dtmf', (d, ms) => digits.push(`${d}/${ms}`));
      expect(await out.sendDtmfInfo('5', 120)).toBe(200);
      expect(await out.sendDtmfInfo('#')).toBe(200);
      expect(digits).toEqual(['5/120', '#/160']);

      const refers: string[] = [];
      inc.on('refer', (to) => refers.push(to));
      const notifies: string[] = [];
      out.on('notify', (ev, body) => notifies.push(`${ev}:${body.trim()}`));
      // A call whose application does not act on transfers refuses them instead of accepting and doing nothing.
      expect(await out.refer('sip:carol@127.0.0.1')).toBe(501);
      inc.acceptsRefer = true;
      expect(await out.refer('sip:carol@127.0.0.1')).toBe(202);
      expect(refers).toEqual(['<sip:carol@127.0.0.1>']);
      expect(await inc.notifyReferProgress('SIP/2.0 200 OK', true)).toBe(200);
      expect(notifies).toEqual(['refer:SIP/2.0 200 OK']);

      expect(await inc.options()).toBe(200);
      const ended = new Promise<string>((r) => inc.once('ended', r));
      await out.bye();
      expect(await ended).toBe('remote-bye');
      expect(a.userAgent.activeCalls).toBe(0);
      expect(b.userAgent.activeCalls).toBe(0);
    });
  }

  it('glare: simultaneous re-INVITEs get 491 and both retry until one wins', async () => {
    const { out, inc } = await connect('udp');
    const [x, y] = await Promise.all([out.reinvite(pcmuSdp(42030)), inc.reinvite(pcmuSdp(42031))]);
    expect([x.status, y.status]).toEqual([200, 200]);
    await out.bye();
  }, 30_000);

  it('refreshes the session with re-INVITE before Session-Expires runs out (RFC 4028)', async () => {
    const fastA = await startStack({ tcpPort: null, userName: 'alice' });
    try {
      // a short interval so the refresh happens within the test: half of 2 s
      (fastA.userAgent as unknown as { minSessionExpiresSec: number }).minSessionExpiresSec = 1;
      (b.userAgent as unknown as { minSessionExpiresSec: number }).minSessionExpiresSec = 1;
      const out = fastA.userAgent.sendInvite(`sip:bob@127.0.0.1:${b.ports.udp}`, pcmuSdp(42040), { sessionExpiresSec: 2 });
      await new Promise<void>((res, rej) => {
        out.once('answered', () => res());
        out.once('failed', (s) => rej(new Error(String(s))));
      });
      const refreshed = new Promise<void>((r) => out.once('refreshed', () => r()));
      await refreshed;
      expect(out.state).toBe('confirmed');
      await out.bye();
    } finally {
      (b.userAgent as unknown as { minSessionExpiresSec: number }).minSessionExpiresSec = 90;
      await fastA.close();
    }
  });

  it('rejects a too small Session-Expires with 422', async () => {
    const out = a.userAgent.sendInvite(`sip:bob@127.0.0.1:${b.ports.udp}`, pcmuSdp(42050), { sessionExpiresSec: 30 });
    expect(await new Promise<number>((r) => out.once('failed', (s) => r(s)))).toBe(422);
  });

  it('OPTIONS keep-alive reports a trunk up and down', async () => {
    const ka = new OptionsKeepAlive(a.userAgent, `sip:127.0.0.1:${b.ports.udp}`, 0);
    expect(await ka.ping()).toBe(200);
    expect(ka.alive).toBe(true);
    const fast = await startStack({ tcpPort: null, timers: { t1Ms: 10, t2Ms: 40, t4Ms: 50 } });
    const dead = new OptionsKeepAlive(fast.userAgent, 'sip:127.0.0.1:26998', 0);
    expect(await dead.ping()).toBe(408);
    expect(dead.alive).toBe(false);
    await fast.close();
  });
});

describe('TLS and IPv6 transports', () => {
  it('places a call over TLS (node:tls, cert/key from files)', async () => {
    const dir = scratchDir('tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const tls = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), caFile: join(dir, 'cert.pem') };
    const x = await startStack({ udpPort: null, tcpPort: null, tlsPort: 0, tls });
    const y = await startStack({ udpPort: null, tcpPort: null, tlsPort: 0, tls });
    try {
      y.userAgent.onInvite((c) => c.answer(pcmuSdp(42060)));
      const call = x.userAgent.sendInvite(`sips:bob@127.0.0.1:${y.ports.tls}`, pcmuSdp(42061));
      const sdp = await new Promise<string>((res, rej) => {
        call.once('answered', res);
        call.once('failed', (s, r) => rej(new Error(`${s} ${r}`)));
      });
      expect(sdp).toContain('42060');
      await call.bye();
    } finally {
      await x.close();
      await y.close();
    }
  });

  it('exchanges OPTIONS over UDP and TCP on IPv6 loopback', async () => {
    const v6 = await SipServer.start({ host: '::1', udpPort: 0, tcpPort: 0, domain: 'conflux.test', users: [] }, testLogger);
    const peer = await SipServer.start({ host: '::1', udpPort: 0, tcpPort: 0, domain: 'conflux.test', users: [] }, testLogger);
    try {
      expect((await peer.userAgent.sendOptions(`sip:[::1]:${v6.ports.udp}`)).status).toBe(200);
      expect((await peer.userAgent.sendOptions(`sip:[::1]:${v6.ports.tcp};transport=tcp`)).status).toBe(200);
    } finally {
      await v6.close();
      await peer.close();
    }
  });
});
