import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationClient } from '../../../sip-connector/sip/RegistrationClient.js';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { pcmuSdp, startStack, waitFor } from './peers.js';

const HOST = '127.0.0.1';

/** A hand-driven SIP peer on a UDP socket: every message it receives is kept. */
async function rawPeer(): Promise<{ socket: dgram.Socket; received: string[]; port: number }> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (data) => received.push(data.toString()));
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return { socket, received, port: socket.address().port };
}

function invite(port: number, callId: string, sessionExpires: string): string {
  const body = pcmuSdp(47000);
  return [
    `INVITE sip:bob@${HOST} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${port};branch=z9hG4bK-${callId};rport`, 'Max-Forwards: 70',
    `From: <sip:peer@${HOST}>;tag=${callId}`, `To: <sip:bob@${HOST}>`, `Call-ID: ${callId}`, 'CSeq: 1 INVITE',
    `Contact: <sip:peer@${HOST}:${port}>`, 'Supported: timer', `Session-Expires: ${sessionExpires}`,
    'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n');
}

function inDialog(method: 'ACK' | 'BYE', seq: number, ok: string, port: number, callId: string): string {
  const to = /^To: (.*)$/im.exec(ok)![1]!.trim();
  return [
    `${method} sip:bob@${HOST} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${port};branch=z9hG4bK-${method}-${callId};rport`, 'Max-Forwards: 70',
    `From: <sip:peer@${HOST}>;tag=${callId}`, `To: ${to}`, `Call-ID: ${callId}`, `CSeq: ${seq} ${method}`, 'Content-Length: 0', '', '',
  ].join('\r\n');
}

let stack: SipServer;

beforeAll(async () => {
  stack = await startStack({ userName: 'bob' });
  stack.userAgent.onInvite((call) => call.answer(pcmuSdp(47002)));
});
afterAll(async () => {
  await stack?.close();
});

describe('intervals a peer writes are clamped before they arm timers', () => {
  for (const refresher of ['uas', 'uac'] as const) {
    it(`Session-Expires: 5000000;refresher=${refresher} is shortened in the answer and neither floods re-INVITEs nor ends the call`, async () => {
      const peer = await rawPeer();
      const callId = `se-${refresher}-${Date.now()}`;
      try {
        peer.socket.send(invite(peer.port, callId, `5000000;refresher=${refresher}`), stack.ports.udp!, HOST);
        await waitFor(() => peer.received.some((m) => m.startsWith('SIP/2.0 200')), 3000, 'the 200');
        const ok = peer.received.find((m) => m.startsWith('SIP/2.0 200'))!;
        expect(ok).toMatch(new RegExp(`^Session-Expires: 86400;refresher=${refresher}\\r$`, 'm'));
        peer.socket.send(inDialog('ACK', 1, ok, peer.port, callId), stack.ports.udp!, HOST);
        await sleep(1500);
        const requests = peer.received.filter((m) => !m.startsWith('SIP/2.0'));
        expect(requests.map((m) => m.split(' ')[0])).toEqual([]);
        expect(stack.userAgent.activeCalls).toBe(1);
        peer.socket.send(inDialog('BYE', 2, ok, peer.port, callId), stack.ports.udp!, HOST);
        await waitFor(() => peer.received.some((m) => /^SIP\/2\.0 200[^]*CSeq: 2 BYE/.test(m)), 3000, 'the BYE answered');
      } finally {
        peer.socket.close();
      }
    });
  }

  it('a registration granted for 5000000 s is refreshed once, not in a loop', async () => {
    const registrar = await rawPeer();
    registrar.socket.on('message', (data, rinfo) => {
      const text = data.toString();
      if (!text.startsWith('REGISTER')) return;
      const copy = (name: string) => new RegExp(`^${name}: .*$`, 'im').exec(text)![0];
      const contact = /^Contact: (.*)$/im.exec(text)![1]!.trim();
      registrar.socket.send([
        'SIP/2.0 200 OK', copy('Via'), copy('From'), `${copy('To')};tag=reg`, copy('Call-ID'), copy('CSeq'),
        `Contact: ${contact};expires=5000000`, 'Content-Length: 0', '', '',
      ].join('\r\n'), rinfo.port, rinfo.address);
    });
    const client = new RegistrationClient(stack.userAgent, { registrar: `sip:${HOST}:${registrar.port}`, aor: `sip:bob@${HOST}` });
    const granted: number[] = [];
    client.on('registered', (seconds) => granted.push(seconds));
    try {
      client.start();
      await waitFor(() => granted.length > 0, 3000, 'the registration');
      await sleep(1500);
      expect(registrar.received.filter((m) => m.startsWith('REGISTER'))).toHaveLength(1);
      expect(granted).toEqual([86_400]);
    } finally {
      await client.stop();
      registrar.socket.close();
    }
  });
});
