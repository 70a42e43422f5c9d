import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { api, startTestServer } from '../../support/testServer.js';

const HOST = '127.0.0.1';

async function udpSocket(address = HOST): Promise<{ socket: dgram.Socket; replies: string[] }> {
  const socket = dgram.createSocket('udp4');
  const replies: string[] = [];
  socket.on('message', (data) => replies.push(data.toString()));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { socket, replies };
}

function request(method: string, port: number, tag: string, body = '', extra: string[] = []): string {
  return [
    `${method} sip:100@${HOST} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${port};branch=z9hG4bK-${tag};rport`, 'Max-Forwards: 70', ...extra,
    `From: <sip:caller@${HOST}>;tag=${tag}`, `To: <sip:100@${HOST}>`, `Call-ID: ${tag}`, `CSeq: 1 ${method}`,
    `Contact: <sip:caller@${HOST}:${port}>`, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
}

const sdp = (port: number) => ['v=0', `o=c 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, ''].join('\r\n');

describe('SIP flood and capacity protection of the running server', () => {
  let server: ConfluxServer;
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      sip: { enabled: true, host: HOST, udpPort: 0, tcpPort: 0, rateLimit: { perSecond: 20, burst: 20 }, maxCalls: 1 },
    });
    expect((await api(server, 'POST', '/api/v1/sip/inbound-trunks', { id: 'local', name: 'Local', allowedAddresses: [HOST] })).status).toBe(201);
    expect((await api(server, 'POST', '/api/v1/sip/dispatch-rules', { id: 'all', name: 'All', type: 'direct', room: 'capped' })).status).toBe(201);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  it('drops a flood from one source beyond its rate while another source is still served', async () => {
    const flooder = await udpSocket();
    const neighbour = await udpSocket();
    sockets.push(flooder.socket, neighbour.socket);
    const port = server.sip!.ports.udp!;
    const started = performance.now();
    for (let i = 0; i < 200; i++) flooder.socket.send(request('OPTIONS', flooder.socket.address().port, `flood-${i}`), port, HOST);
    await sleep(300);
    const elapsedSeconds = (performance.now() - started) / 1000;
    neighbour.socket.send(request('OPTIONS', neighbour.socket.address().port, 'neighbour-1'), port, HOST);
    await sleep(300);
    // At most the burst plus what refilled while the flood was arriving, whatever the machine's speed. (The
    // kernel may drop part of the burst before the limiter sees it, so count answers, not admissions.)
    const answered = flooder.replies.filter((reply) => reply.startsWith('SIP/2.0 200')).length;
    expect(answered).toBeGreaterThanOrEqual(20);
    expect(answered).toBeLessThanOrEqual(20 + Math.ceil(20 * elapsedSeconds) + 1);
    expect(server.sip!.transport.rateLimiter!.droppedCount).toBeGreaterThan(0);
    expect(neighbour.replies.some((reply) => reply.startsWith('SIP/2.0 200'))).toBe(true);
  });

  it('refuses an INVITE from a source no trunk allows with one 403, not retransmitted, and answers its retransmission', async () => {
    await sleep(1100);
    const stranger = await udpSocket('127.0.0.2');
    sockets.push(stranger.socket);
    const invite = request('INVITE', stranger.socket.address().port, 'stranger-1', sdp(40994));
    stranger.socket.send(invite, server.sip!.ports.udp!, HOST);
    await sleep(2600);
    // A stateful 403 would have been sent again at 0.5, 1 and 2 s.
    expect(stranger.replies.filter((reply) => reply.startsWith('SIP/2.0 403'))).toHaveLength(1);
    stranger.socket.send(invite, server.sip!.ports.udp!, HOST);
    await expect.poll(() => stranger.replies.filter((reply) => reply.startsWith('SIP/2.0 403')).length, { timeout: 3000 }).toBe(2);
  });

  it('answers INVITEs beyond the call limit with 503 and Retry-After', async () => {
    await sleep(1100); // the limiter refills after the flood test
    const first = await udpSocket();
    const second = await udpSocket();
    sockets.push(first.socket, second.socket);
    const port = server.sip!.ports.udp!;
    first.socket.send(request('INVITE', first.socket.address().port, 'call-1', sdp(40990)), port, HOST);
    await expect.poll(() => first.replies.some((reply) => reply.startsWith('SIP/2.0 200')), { timeout: 5000 }).toBe(true);
    second.socket.send(request('INVITE', second.socket.address().port, 'call-2', sdp(40992)), port, HOST);
    await expect.poll(() => second.replies.find((reply) => /^SIP\/2\.0 5/.test(reply)), { timeout: 5000 }).toMatch(/^SIP\/2\.0 503 /);
    expect(second.replies.find((reply) => reply.startsWith('SIP/2.0 503'))).toMatch(/Retry-After: 5/i);
    expect(server.sipCalls!.list().filter((call) => call.state !== 'ended')).toHaveLength(1);
  });

  it('exports the calls, the rate limiting and the room mixer to Prometheus', async () => {
    const text = await (await api(server, 'GET', '/metrics')).text();
    expect(text).toMatch(/^conflux_sip_calls\{state="active"\} 1$/m);
    expect(text).toMatch(/^conflux_sip_calls\{state="ringing"\} 0$/m);
    expect(Number(/^conflux_sip_rate_limited_messages_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^conflux_mixer_rooms 1$/m);
    expect(text).toMatch(/^conflux_mixer_late_ticks_total\{room="capped"\} \d+$/m);
    expect(text).toMatch(/^conflux_mixer_utilization\{room="capped"\} [\d.e-]+$/m);
  });

  it('does not answer scanners at all', async () => {
    const scanner = await udpSocket('127.0.0.2');
    sockets.push(scanner.socket);
    const before = server.sip!.transport.scannersDropped;
    for (const agent of ['friendly-scanner', 'sipvicious 0.3.0', 'sipcli/v1.8']) {
      scanner.socket.send(request('OPTIONS', scanner.socket.address().port, `scan-${agent.length}`, '', [`User-Agent: ${agent}`]), server.sip!.ports.udp!, HOST);
    }
    await sleep(500);
    expect(scanner.replies).toEqual([]);
    expect(server.sip!.transport.scannersDropped - before).toBe(3);
    const text = await (await api(server, 'GET', '/metrics')).text();
    expect(Number(/^conflux_sip_scanner_requests_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
  });
});
