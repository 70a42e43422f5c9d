import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { pcmuSdp, scratchDir, spawnPeer, startStack, stopAllPeers, waitFor } from './peers.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/sip/sipp');
/** What every SIPp run here takes: loopback, no keyboard, and a failing exit once `seconds` have passed. */
const sippBase = (seconds = 20) => ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-nostdin', '-timeout', `${seconds}s`, '-timeout_error'];

/**
 * A UDP hop between the stack and a peer on `peerPort` that drops the first copy, per call, of each kind of
 * message named in `dropFirst` ('INVITE', '200 INVITE', …) and counts the copies of every kind it sees.
 */
class DroppingRelay {
  readonly #copies = new Map<string, Map<string, number>>();
  #stack: { address: string; port: number } | null = null;

  private constructor(private readonly socket: dgram.Socket, private readonly peerPort: number, private readonly dropFirst: Set<string>) {
    socket.on('message', (msg, from) => this.#relay(msg, from));
  }

  static async start(peerPort: number, dropFirst: Set<string>): Promise<DroppingRelay> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return new DroppingRelay(socket, peerPort, dropFirst);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** How many copies of each kind of message of `callId` crossed (or were dropped). */
  copies(callId: string): Map<string, number> {
    return this.#copies.get(callId) ?? new Map();
  }

  summary(): string {
    return [...this.#copies].map(([id, kinds]) => `${id}: ${[...kinds].map(([k, n]) => `${k}×${n}`).join(', ')}`).join('; ');
  }

  close(): void {
    this.socket.close();
  }

  #relay(msg: Buffer, from: dgram.RemoteInfo): void {
    const text = msg.toString('latin1');
    const firstLine = text.slice(0, text.indexOf('\r\n'));
    const callId = /^Call-ID:\s*(\S+)/im.exec(text)?.[1] ?? '';
    const cseqMethod = /^CSeq:\s*\d+\s+(\S+)/im.exec(text)?.[1] ?? '';
    const kind = firstLine.startsWith('SIP/2.0 ') ? `${firstLine.split(' ')[1]} ${cseqMethod}` : firstLine.split(' ')[0] as string;
    const kinds = this.#copies.get(callId) ?? new Map<string, number>();
    this.#copies.set(callId, kinds);
    const copy = (kinds.get(kind) ?? 0) + 1;
    kinds.set(kind, copy);
    const fromPeer = from.port === this.peerPort;
    if (!fromPeer) this.#stack = { address: from.address, port: from.port };
    if (copy === 1 && this.dropFirst.has(kind)) return;
    const to = fromPeer ? this.#stack : { address: '127.0.0.1', port: this.peerPort };
    if (to) this.socket.send(msg, to.port, to.address);
  }
}

let stack: SipServer;
const events: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  stack.userAgent.onInvite((call) => {
    call.ring();
    setTimeout(() => call.answer(pcmuSdp(41000)), 20);
    call.on('ended', (reason) => events.push(`ended:${reason}`));
  });
});

afterAll(async () => {
  await stopAllPeers();
  await stack?.close();
});

/** Runs SIPp to completion (SIPp itself gives up after `sippSeconds`) and returns exit code and output. */
async function sipp(args: string[], timeoutMs = 30_000, sippSeconds = 20): Promise<{ code: number | null; out: string }> {
  const peer = spawnPeer('sipp', [...args, ...sippBase(sippSeconds)], { cwd: scratchDir('sipp'), timeoutMs });
  const code = await peer.exited;
  return { code, out: peer.output() };
}

describe('SIPp as caller (uac) against the stack', () => {
  it('completes calls over UDP', async () => {
    const { code, out } = await sipp(['-sn', 'uac', `127.0.0.1:${stack.ports.udp}`, '-p', '26001', '-m', '5', '-r', '10']);
    expect(code, out).toBe(0);
  });

  it('completes calls over TCP', async () => {
    const { code, out } = await sipp(['-sn', 'uac', `127.0.0.1:${stack.ports.tcp}`, '-t', 't1', '-p', '26002', '-m', '5', '-r', '10']);
    expect(code, out).toBe(0);
  });

  // A 30 % loss each way can take a call through many backed-off retransmissions (up to 4 s apart): SIPp gets 90 s.
  it('recovers from lost INVITEs and lost 200s (2xx retransmission by the UAS core)', async () => {
    const { code, out } = await sipp(['-sf', resolve(FIXTURES, 'uac-lossy.xml'), `127.0.0.1:${stack.ports.udp}`,
      '-s', 'room', '-p', '26003', '-m', '6', '-r', '10', '-l', '6'], 100_000, 90);
    expect(code, out).toBe(0);
  });

  it('answers OPTIONS with 200 and malformed requests with 400', async () => {
    const res = await stack.userAgent.sendOptions(`sip:127.0.0.1:${stack.ports.udp}`);
    expect(res.status).toBe(200);
    expect(res.get('Allow')).toContain('INVITE');
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const reply = new Promise<string>((r) => sock.once('message', (m) => r(m.toString())));
    const bad = ['OPTIONS sip:x@127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK-bad`,
      'From: <sip:a@127.0.0.1>;tag=1', 'To: <sip:x@127.0.0.1>', 'Call-ID: bad@x', 'CSeq: 1 OPTIONS', 'Max-Forwards: many',
      'Content-Length: 0', '', ''].join('\r\n');
    sock.send(bad, stack.ports.udp as number, '127.0.0.1');
    const text = await reply;
    sock.close();
    expect(text).toMatch(/^SIP\/2.0 400 Bad Request \(malformed Max-Forwards\)\r\n/);
  });
});

describe('the stack as caller against SIPp (uas)', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`places a call over ${transport.toUpperCase()}, gets the answer and hangs up with BYE`, async () => {
      const port = transport === 'udp' ? 26011 : 26012;
      const peer = spawnPeer('sipp', ['-sn', 'uas', '-p', String(port), '-m', '1', ...(transport === 'tcp' ? ['-t', 't1'] : []), ...sippBase()],
        { cwd: scratchDir('sipp-uas'), timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 300));
      const call = stack.userAgent.sendInvite(`sip:service@127.0.0.1:${port}${transport === 'tcp' ? ';transport=tcp' : ''}`, pcmuSdp(41002));
      const seen: string[] = [];
      call.on('provisional', (s) => seen.push(String(s)));
      const answer = await new Promise<string>((res, rej) => {
        call.once('answered', res);
        call.once('failed', (s, r) => rej(new Error(`${s} ${r}`)));
      });
      expect(answer).toContain('m=audio');
      expect(seen).toContain('180');
      await new Promise((r) => setTimeout(r, 200));
      await call.bye();
      expect(await peer.exited, peer.output()).toBe(0);
    });
  }

  it('completes calls on a lossy path (INVITE retransmission by timer A, ACK re-sent for 2xx retransmissions)', async () => {
    const port = 26013;
    const calls = 4;
    // The path loses the first copy of each call's INVITE, of its 200 OK and of its ACK: the stack must send the
    // INVITE again (timer A) and answer SIPp's retransmitted 200 with a second ACK. Always, not by chance.
    const relay = await DroppingRelay.start(port, new Set(['INVITE', '200 INVITE', 'ACK']));
    const peer = spawnPeer('sipp', ['-sf', resolve(FIXTURES, 'uas-relayed.xml'), '-p', String(port), '-m', String(calls),
      '-key', 'relay_port', String(relay.port), ...sippBase(40)], { cwd: scratchDir('sipp-uas'), timeoutMs: 50_000 });
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < calls; i++) {
        const call = stack.userAgent.sendInvite(`sip:service@127.0.0.1:${relay.port}`, pcmuSdp(41004), { noAnswerTimeoutMs: 25_000 });
        await new Promise<void>((res, rej) => {
          call.once('answered', () => res());
          call.once('failed', (s, r) => rej(new Error(`${s} ${r}; relayed: ${relay.summary()}`)));
        });
        // The first ACK is lost too: SIPp's next 200 must get a second one before the call is hung up.
        await waitFor(() => (relay.copies(call.callId).get('ACK') ?? 0) >= 2, 8_000, `a second ACK (${relay.summary()})`);
        await call.bye();
        const copies = relay.copies(call.callId);
        expect(copies.get('INVITE'), relay.summary()).toBeGreaterThanOrEqual(2);
        expect(copies.get('200 INVITE'), relay.summary()).toBeGreaterThanOrEqual(2);
        expect(copies.get('ACK'), relay.summary()).toBeGreaterThanOrEqual(2);
      }
      expect(await peer.exited, peer.output()).toBe(0);
    } finally {
      relay.close();
    }
  });

  it('reports a failure status when the callee rejects', async () => {
    // nobody listens on this port: ICMP is invisible to UDP, so the INVITE times out (timer B) unless answered
    const fast = await startStack({ tcpPort: null, timers: { t1Ms: 20, t2Ms: 80, t4Ms: 100 } });
    try {
      const call = fast.userAgent.sendInvite('sip:nobody@127.0.0.1:26999', pcmuSdp(41006));
      const status = await new Promise<number>((res) => call.once('failed', (s) => res(s)));
      expect(status).toBe(408);
      const rejected = await fast.userAgent.sendInvite(`sip:x@127.0.0.1:${stack.ports.udp}`, pcmuSdp(41008), {});
      expect(rejected).toBeDefined();
    } finally {
      await fast.close();
    }
  });
});

describe('CANCEL', () => {
  it('cancels an unanswered outgoing call and the callee answers 487', async () => {
    const callee = await startStack({ tcpPort: null });
    let incomingFailed = 0;
    callee.userAgent.onInvite((call) => {
      call.ring();
      call.on('failed', (s) => { incomingFailed = s; });
    });
    try {
      const call = stack.userAgent.sendInvite(`sip:someone@127.0.0.1:${callee.ports.udp}`, pcmuSdp(41010));
      await new Promise<void>((r) => call.once('provisional', () => r()));
      await call.cancel();
      const status = await new Promise<number>((r) => call.once('failed', (s) => r(s)));
      expect(status).toBe(487);
      await waitFor(() => incomingFailed === 487, 2000, 'callee to see the CANCEL');
    } finally {
      await callee.close();
    }
  });

  it('rejects INVITEs with 404 by default (SipServer without a handler)', async () => {
    const other = await startStack({ tcpPort: null });
    try {
      const call = stack.userAgent.sendInvite(`sip:room@127.0.0.1:${other.ports.udp}`, pcmuSdp(41012));
      expect(await new Promise<number>((r) => call.once('failed', (s) => r(s)))).toBe(404);
    } finally {
      await other.close();
    }
  });
});
