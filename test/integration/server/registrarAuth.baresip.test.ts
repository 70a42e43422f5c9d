import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { DigestClient, parseChallenge } from '../../../sip-connector/sip/DigestAuth.js';
import { BaresipPhone } from '../../support/baresip.js';
import { eventually } from '../../support/sipCalls.js';
import { api, startTestServer } from '../../support/testServer.js';
import { stopAllPeers } from '../sip-connector/peers.js';

const DOMAIN = '127.0.0.1';
const USERS = [{ username: '1001', password: 'baresip-pw' }, { username: 'alice', password: 'alice-pw' }];

/** A raw SIP client on one loopback address: what an attacker on another host can send. */
class RawSipClient {
  readonly replies: string[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data) => this.replies.push(data.toString()));
  }

  static async bind(address: string): Promise<RawSipClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new RawSipClient(socket);
  }

  get address(): string {
    return `${this.socket.address().address}:${this.socket.address().port}`;
  }

  register(user: string, seq: number, authorization?: string, contactHost = this.address): string {
    const tag = `${user}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
    return [
      `REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${this.address};branch=z9hG4bK-${tag};rport`, 'Max-Forwards: 70',
      `From: <sip:${user}@${DOMAIN}>;tag=${tag}`, `To: <sip:${user}@${DOMAIN}>`, `Call-ID: reg-${user}-${this.address}`,
      `CSeq: ${seq} REGISTER`, `Contact: <sip:${user}@${contactHost}>`, 'Expires: 120',
      ...(authorization ? [`Authorization: ${authorization}`] : []), 'Content-Length: 0', '', '',
    ].join('\r\n');
  }

  /** Sends a request and waits for the reply whose CSeq matches. */
  async send(server: ConfluxServer, text: string): Promise<string> {
    const seq = /CSeq: (\d+)/.exec(text)![1]!;
    const before = this.replies.length;
    this.socket.send(text, server.sip!.ports.udp!, DOMAIN);
    return eventually(() => this.replies.slice(before).find((reply) => reply.includes(`CSeq: ${seq} REGISTER`)), (r) => r !== undefined,
      3000, `an answer to CSeq ${seq}`) as Promise<string>;
  }

  close(): void {
    this.socket.close();
  }
}

const statusOf = (reply: string): number => Number(/^SIP\/2\.0 (\d{3})/.exec(reply)?.[1]);
const challengeOf = (reply: string) => parseChallenge(/WWW-Authenticate: (.*)\r\n/i.exec(reply)![1]!);
const answer = (reply: string, user: string, password: string) =>
  new DigestClient([{ username: user, password }]).authorize(challengeOf(reply), 'REGISTER', `sip:${DOMAIN}`)!;

let server: ConfluxServer;
const clients: RawSipClient[] = [];
const client = async (address: string) => {
  const made = await RawSipClient.bind(address);
  clients.push(made);
  return made;
};

beforeAll(async () => {
  server = await startTestServer({
    sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, domain: DOMAIN, users: USERS },
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await stopAllPeers();
  await server?.close();
});

describe('the registrar against real clients and attackers on other addresses', () => {
  it('lets baresip 1.0 register with the default challenge (it answers only an MD5 first challenge)', async () => {
    const phone = await BaresipPhone.start({
      user: '1001', sipPort: 27370, ctrlPort: 27375, rtpPortMin: 27380, toneHz: 440, lifetimeMs: 30_000, record: false,
      registrar: { port: server.sip!.ports.udp!, password: USERS[0]!.password, intervalSeconds: 60 },
    });
    try {
      await eventually(() => server.sip!.registrar.lookup('1001'), (bindings) => bindings.length > 0, 10_000,
        `baresip to register\n${phone.output().slice(-1500)}`);
    } finally {
      await phone.stop();
    }
  });

  it('refuses an answer replayed from another address, and one without qop', async () => {
    const victim = await client('127.0.0.1');
    const attacker = await client('127.0.0.2');
    const challenge = await victim.send(server, victim.register('alice', 1));
    expect(statusOf(challenge)).toBe(401);
    const authorization = answer(challenge, 'alice', 'alice-pw');
    expect(statusOf(await victim.send(server, victim.register('alice', 2, authorization)))).toBe(200);
    // The same credentials, with the attacker's Contact, from the attacker's address.
    const replayed = await attacker.send(server, attacker.register('alice', 3, authorization));
    expect(statusOf(replayed)).toBe(401);
    // And from the victim's own address: the nonce count was used.
    expect(statusOf(await victim.send(server, victim.register('alice', 4, authorization, attacker.address)))).not.toBe(200);
    // An RFC 2069 answer (no qop, so no nonce count): refused even from the address it was issued to.
    const fresh = await attacker.send(server, attacker.register('alice', 5));
    const noQop = new DigestClient([{ username: 'alice', password: 'alice-pw' }])
      .authorize({ ...challengeOf(fresh), qop: [] }, 'REGISTER', `sip:${DOMAIN}`)!;
    expect(statusOf(await attacker.send(server, attacker.register('alice', 6, noQop)))).toBe(401);
    const contacts = server.sip!.registrar.lookup('alice').map((binding) => binding.contact.uri.toString());
    expect(contacts).toEqual([`sip:alice@${victim.address}`]);
  });

  it('blocks a source guessing passwords, even once it has the right one, and says so; others are served', async () => {
    const guesser = await client('127.0.0.3');
    let seq = 1;
    let reply = await guesser.send(server, guesser.register('alice', seq++));
    let lastChallenge = reply;
    for (let i = 0; i < 12 && statusOf(reply) === 401; i++) {
      lastChallenge = reply;
      reply = await guesser.send(server, guesser.register('alice', seq++, answer(reply, 'alice', `guess-${i}`)));
    }
    expect(statusOf(reply)).toBe(403);
    expect(reply).toMatch(/Warning: 399 conflux "Too many failed authentications"/);
    // The right password, answering a nonce the guesser was given, is refused while the block lasts.
    const right = await guesser.send(server, guesser.register('alice', seq++, answer(lastChallenge, 'alice', 'alice-pw')));
    expect(statusOf(right)).toBe(403);
    expect(server.sip!.registrar.lookup('alice').some((b) => b.contact.uri.host === '127.0.0.3')).toBe(false);
    const neighbour = await client('127.0.0.4');
    const challenge = await neighbour.send(server, neighbour.register('alice', 1));
    expect(statusOf(await neighbour.send(server, neighbour.register('alice', 2, answer(challenge, 'alice', 'alice-pw'))))).toBe(200);
    const metrics = await (await api(server, 'GET', '/metrics')).text();
    expect(metrics).toMatch(/^conflux_sip_auth_blocks_total 1$/m);
    // Each refused answer counts under its reason, each response under its code (the replay test's too).
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(value('conflux_auth_failures_total{surface="sip",reason="wrong-credentials"}')).toBeGreaterThanOrEqual(10);
    expect(value('conflux_auth_failures_total{surface="sip",reason="blocked"}')).toBeGreaterThanOrEqual(2);
    expect(value('conflux_auth_failures_total{surface="sip",reason="qop-required"}')).toBe(1);
    expect(value('conflux_auth_failures_total{surface="sip",reason="replayed"}') + value('conflux_auth_failures_total{surface="sip",reason="foreign-nonce"}'))
      .toBeGreaterThanOrEqual(2);
    expect(value('conflux_sip_responses_total{direction="sent",method="REGISTER",code="403"}')).toBeGreaterThanOrEqual(2);
    expect(value('conflux_sip_responses_total{direction="sent",method="REGISTER",code="401"}')).toBeGreaterThanOrEqual(12);
    expect(value('conflux_sip_responses_total{direction="sent",method="REGISTER",code="200"}')).toBeGreaterThanOrEqual(2);
  });
});
