import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { DigestClient, parseChallenge } from '../../../sip-connector/sip/DigestAuth.js';
import { configure } from '../../support/sipCalls.js';
import { startTestServer } from '../../support/testServer.js';

const DOMAIN = 'conflux.test';
const USERS = [{ username: 'alice', password: 'alice-pw' }, { username: 'bob', password: 'bob-pw' }];

/** A SIP-over-WebSocket client (RFC 7118) speaking raw messages. */
class WsSipClient {
  readonly received: string[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.received.push(data.toString()));
  }

  static async connect(port: number): Promise<WsSipClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
    return new WsSipClient(socket);
  }

  /** Sends an INVITE and resolves with its final response. */
  async invite(to: string, seq: number, sdp: string, proxyAuthorization?: string): Promise<string> {
    const branch = `z9hG4bK-${seq}-${Math.random().toString(36).slice(2)}`;
    const message = [
      `INVITE sip:${to}@${DOMAIN} SIP/2.0`, `Via: SIP/2.0/WS abc.invalid;branch=${branch}`, 'Max-Forwards: 70',
      `From: "Alice" <sip:alice@${DOMAIN}>;tag=t${seq}`, `To: <sip:${to}@${DOMAIN}>`, 'Call-ID: ws-call-1', `CSeq: ${seq} INVITE`,
      'Contact: <sip:alice@abc.invalid;transport=ws>', ...(proxyAuthorization ? [`Proxy-Authorization: ${proxyAuthorization}`] : []),
      'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp,
    ].join('\r\n');
    const before = this.received.length;
    this.socket.send(message);
    const deadline = Date.now() + 5000;
    for (;;) {
      const final = this.received.slice(before).find((m) => /^SIP\/2\.0 [2-6]\d\d/.test(m) && m.includes(`CSeq: ${seq} INVITE`));
      if (final) {
        // Acknowledge a final error response, as a client does.
        if (!final.startsWith('SIP/2.0 2')) {
          const to = /^To: (.*)$/m.exec(final)![1]!.trim();
          this.socket.send(message.replace(/^INVITE /, 'ACK ').replace(/CSeq: \d+ INVITE/, `CSeq: ${seq} ACK`).replace(/^To: .*$/m, `To: ${to}`)
            .replace(/Content-Type[^]*$/, 'Content-Length: 0\r\n\r\n'));
        }
        return final;
      }
      if (Date.now() > deadline) throw new Error(`no final answer to INVITE ${seq}: ${this.received.join('\n---\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.socket.close();
  }
}

const webrtcOffer = (fingerprint: boolean) => [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 0', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  ...(fingerprint ? ['a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89'] : []),
  'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:0 PCMU/8000', 'a=ssrc:1 cname:x', '',
].join('\r\n');

const statusOf = (reply: string) => Number(/^SIP\/2\.0 (\d{3})/.exec(reply)![1]);

describe('calls from WebSocket clients are users\' calls: digest first, then the callee', () => {
  let server: ConfluxServer;
  let client: WsSipClient;
  let seq = 1;

  beforeAll(async () => {
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: USERS } });
    // A trunk trusting the very address the WebSocket client connects from, with a rule into a room.
    await configure(server, 'inbound-trunks', { id: 'local-pbx', name: 'same-host PBX', allowedAddresses: ['127.0.0.1'] });
    // The rule names the trunk: registered users' calls are not its to take (a rule naming no trunk would be).
    await configure(server, 'dispatch-rules', { id: 'all', name: 'everything from the PBX', type: 'direct', room: 'lobby', trunkIds: ['local-pbx'] });
    // A room behind a PIN that registered users dial by number: a phone can key the PIN, a browser client not yet.
    await configure(server, 'dispatch-rules', { id: 'pin', name: 'PIN room', type: 'direct', room: 'board', numbers: ['7000'], pin: '2468' });
    client = await WsSipClient.connect(server.sip!.ports.ws!);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  async function authorized(to: string, sdp: string): Promise<string> {
    const challenge = await client.invite(to, seq++, sdp);
    expect(statusOf(challenge)).toBe(407);
    const header = parseChallenge(/^Proxy-Authenticate: (.*)$/m.exec(challenge)![1]!.trim());
    const auth = new DigestClient([{ username: 'alice', password: 'alice-pw' }]).authorize(header, 'INVITE', `sip:${to}@${DOMAIN}`)!;
    return client.invite(to, seq++, sdp, auth);
  }

  it('challenges an INVITE over WebSocket with 407 even from an address a trunk trusts, and puts nobody in a room', async () => {
    const reply = await client.invite('lobby', seq++, webrtcOffer(true));
    expect(statusOf(reply)).toBe(407);
    expect(reply).toMatch(/^Proxy-Authenticate: Digest realm="conflux\.test"/m);
    expect(server.rooms.find('lobby')).toBeUndefined();
  });

  it('refuses a WebRTC offer without a DTLS fingerprint with 488 and a Warning saying so', async () => {
    const reply = await authorized('bob', webrtcOffer(false));
    expect(statusOf(reply)).toBe(488);
    expect(reply).toMatch(/^Warning: 399 conflux "SDP: WebRTC offer without DTLS fingerprint"/m);
  });

  it('answers 404 for an unknown user and 480 for a user who is not registered; no room is left', async () => {
    expect(statusOf(await authorized('nobody', webrtcOffer(true)))).toBe(404);
    const offline = await authorized('bob', webrtcOffer(true));
    expect(statusOf(offline)).toBe(480);
    expect(offline).toMatch(/^Warning: 399 conflux "bob is not registered"/m);
    expect(server.rooms.list()).toEqual([]);
  });

  it('refuses a browser calling into a room with a PIN with 488 and a Warning saying why, and opens no room', async () => {
    const reply = await authorized('7000', webrtcOffer(true));
    expect(statusOf(reply)).toBe(488);
    expect(reply).toMatch(/^Warning: 399 conflux "room board asks for a PIN: a browser SIP client cannot enter one yet \(phones can\)"/m);
    expect(server.rooms.find('board')).toBeUndefined();
  });

  it('refuses wrong credentials without saying which part was wrong', async () => {
    const challenge = await client.invite('bob', seq++, webrtcOffer(true));
    const header = parseChallenge(/^Proxy-Authenticate: (.*)$/m.exec(challenge)![1]!.trim());
    const wrong = new DigestClient([{ username: 'alice', password: 'guess' }]).authorize(header, 'INVITE', `sip:bob@${DOMAIN}`)!;
    expect(statusOf(await client.invite('bob', seq++, webrtcOffer(true), wrong))).toBe(407);
  });
});
