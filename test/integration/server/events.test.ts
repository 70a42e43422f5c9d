import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { SignallingTestClient } from '../../support/SignallingTestClient.js';
import { api, startTestServer, TEST_API_KEY } from '../../support/testServer.js';

const WEBHOOK_SECRET = 'webhook-secret-0123456789';

describe('room events over Server-Sent Events and a signed webhook', () => {
  let server: ConfluxServer;
  let hook: http.Server;
  const delivered: Array<{ signature: string | undefined; body: string }> = [];

  beforeAll(async () => {
    hook = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        delivered.push({ signature: request.headers['x-conflux-signature'] as string | undefined, body });
        // The first delivery is refused once, so the retry path is exercised.
        response.writeHead(delivered.length === 1 ? 503 : 204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    server = await startTestServer({ webhooks: { url, secret: WEBHOOK_SECRET } });
  });
  afterAll(async () => {
    await server.close();
    await new Promise((resolve) => hook.close(resolve));
  });

  it('streams room and participant events in order, and delivers the same to the webhook', async () => {
    expect((await api(server, 'GET', '/api/v1/events', undefined, null)).status).toBe(401);
    const controller = new AbortController();
    const stream = await fetch(`${server.httpUrl}/api/v1/events`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` }, signal: controller.signal,
    });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    let text = '';
    const events: Array<{ type: string; [key: string]: unknown }> = [];
    const pump = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      }
    })();

    const client = await SignallingTestClient.connect(server.httpUrl);
    const { token } = await server.tokens.issue({ room: 'evented', identity: 'alice', name: 'Alice' });
    const joined = await client.call<{ participantId: string }>('join', { token });
    await client.call('leave');
    expect((await api(server, 'DELETE', '/api/v1/rooms/evented')).status).toBe(204);
    const expected = ['room_created', 'participant_joined', 'participant_left', 'room_closed'];
    await expect.poll(() => events.map((event) => event.type), { timeout: 5000 }).toEqual(expected);
    expect(events[1]).toMatchObject({ room: 'evented', participant: { id: joined.participantId, identity: 'alice' } });
    expect(events[2]).toMatchObject({ participantId: joined.participantId, reason: 'left' });
    const ids = events.map((event) => event.id as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // One refused delivery, retried, then everything in order with a valid signature.
    await expect.poll(() => delivered.length, { timeout: 8000 }).toBe(expected.length + 1);
    const bodies = delivered.slice(1);
    expect(bodies.map((d) => JSON.parse(d.body).type)).toEqual(expected);
    for (const { signature, body } of delivered) {
      expect(signature).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`);
    }
    client.close();
    controller.abort();
    await pump;
  });
});
