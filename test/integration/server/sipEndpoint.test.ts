import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { startTestServer } from '../../support/testServer.js';

function options(transport: 'UDP' | 'TCP', localPort: number, callId: string): string {
  return [
    'OPTIONS sip:conflux@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/${transport} 127.0.0.1:${localPort};branch=z9hG4bK-${callId};rport`,
    'Max-Forwards: 70',
    `From: <sip:trunk@127.0.0.1>;tag=${callId}`,
    'To: <sip:conflux@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('the server\'s SIP endpoint', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers OPTIONS with 200 over UDP (trunk keep-alive)', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const reply = new Promise<string>((resolve) => socket.once('message', (msg) => resolve(msg.toString())));
      socket.send(options('UDP', socket.address().port, 'opt-udp-1'), server.sip!.ports.udp!, '127.0.0.1');
      const text = await reply;
      expect(text).toMatch(/^SIP\/2\.0 200 /);
      expect(text).toMatch(/Call-ID: opt-udp-1/i);
    } finally {
      socket.close();
    }
  });

  it('answers OPTIONS over TCP and 400 to a malformed request without dropping the connection', async () => {
    const socket = net.connect(server.sip!.ports.tcp!, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk) => { received += chunk.toString(); });
    try {
      socket.write(options('TCP', socket.localPort!, 'opt-tcp-1'));
      // Answerable (it names its dialog) but broken: the stack must say 400 and keep the connection.
      socket.write(options('TCP', socket.localPort!, 'opt-tcp-2').replace('Max-Forwards: 70', 'Max-Forwards: many'));
      await expect.poll(() => received, { timeout: 5000 }).toMatch(/SIP\/2\.0 400 [^\r]*[\s\S]*Call-ID: opt-tcp-2/i);
      socket.write(options('TCP', socket.localPort!, 'opt-tcp-3'));
      await expect.poll(() => received, { timeout: 5000 }).toMatch(/Call-ID: opt-tcp-3/i);
      expect(received).toMatch(/^SIP\/2\.0 200 /);
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
    }
  });
});
