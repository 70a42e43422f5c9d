import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { startStack, waitFor } from './peers.js';

/** A TCP connection from `localAddress`, with whatever the server sends and whether it closed. */
async function connectFrom(port: number, localAddress: string): Promise<{ socket: net.Socket; data: string[]; closed: () => boolean }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const data: string[] = [];
  let closed = false;
  socket.on('data', (chunk) => data.push(chunk.toString()));
  socket.on('close', () => { closed = true; });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return { socket, data, closed: () => closed };
}

const options = (port: number, tag: string) => [
  'OPTIONS sip:conflux@127.0.0.1 SIP/2.0', `Via: SIP/2.0/TCP 127.0.0.9:${port};branch=z9hG4bK-${tag}`, 'Max-Forwards: 70',
  `From: <sip:probe@127.0.0.9>;tag=${tag}`, 'To: <sip:conflux@127.0.0.1>', `Call-ID: ${tag}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
].join('\r\n');

describe('TCP and WebSocket connection caps: per source, in total, and for silent connections', () => {
  let stack: SipServer;
  const open: Array<{ socket: net.Socket }> = [];

  beforeAll(async () => {
    stack = await startStack({
      wsPort: 0, keepAliveIntervalMs: 250,
      connectionLimits: { maxConnections: 8, maxConnectionsPerSource: 3, silentTimeoutMs: 1000 },
    });
  });
  afterAll(async () => {
    for (const c of open) c.socket.destroy();
    await stack?.close();
  });

  it('closes connections past a source\'s cap and past the total, serves those within, and closes the silent ones', async () => {
    const port = stack.ports.tcp!;
    const flooder = await Promise.all(Array.from({ length: 6 }, () => connectFrom(port, '127.0.0.5')));
    open.push(...flooder);
    await waitFor(() => flooder.filter((c) => c.closed()).length === 3, 3000, 'the source\'s excess connections to close');
    // Three more sources: 3 + 3 + 2 fill the total of 8; the rest is refused.
    const others = await Promise.all(['127.0.0.6', '127.0.0.7'].flatMap((address) => Array.from({ length: 3 }, () => connectFrom(port, address))));
    open.push(...others);
    await waitFor(() => others.filter((c) => c.closed()).length === 1, 3000, 'the connections over the total to close');
    const talker = others.find((c) => !c.closed())!;
    talker.socket.write(options(talker.socket.localPort!, 'caps-1'));
    await waitFor(() => talker.data.join('').startsWith('SIP/2.0 200'), 3000, 'an answer within the caps');
    // WebSocket connections count in their own transport's caps in the same way.
    const sockets = Array.from({ length: 5 }, () => new WebSocket(`ws://127.0.0.1:${stack.ports.ws}`, 'sip', { localAddress: '127.0.0.8' }));
    const wsClosed = sockets.map(() => false);
    sockets.forEach((ws, i) => { ws.on('close', () => { wsClosed[i] = true; }); ws.on('error', () => undefined); });
    await waitFor(() => wsClosed.filter(Boolean).length === 2, 3000, 'the WebSocket excess to close');
    // Silent ones go after a second; the one that spoke stays.
    await sleep(1800);
    expect(flooder.every((c) => c.closed())).toBe(true);
    expect(talker.closed()).toBe(false);
    expect(others.filter((c) => c !== talker).every((c) => c.closed())).toBe(true);
    await waitFor(() => wsClosed.every(Boolean), 3000, 'the silent WebSocket connections to close');
    // Freed places serve new connections again.
    const later = await connectFrom(port, '127.0.0.5');
    open.push(later);
    later.socket.write(options(later.socket.localPort!, 'caps-2'));
    await waitFor(() => later.data.join('').startsWith('SIP/2.0 200'), 3000, 'an answer after the flood');
  });
});
