import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import JsSIP from 'jssip';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { startStack, waitFor } from './peers.js';

// JsSIP's WebSocketInterface expects the browser global; `ws` provides a compatible client in Node
(globalThis as unknown as { WebSocket: unknown }).WebSocket = WebSocket;
if (process.env.JSSIP_DEBUG) JsSIP.debug.enable('JsSIP:*'); else JsSIP.debug.disable();

const DOMAIN = 'conflux.test';
let stack: SipServer;

beforeAll(async () => {
  stack = await startStack({ udpPort: null, tcpPort: null, wsPort: 0, domain: DOMAIN, users: [{ username: 'alice', password: 's3cret' }] });
});

afterAll(async () => {
  await stack?.close();
});

/** Runs one JsSIP registration attempt and resolves with how it ended. */
function register(password: string): Promise<{ ok: boolean; cause?: string; ua: JsSIP.UA }> {
  const socket = new JsSIP.WebSocketInterface(`ws://127.0.0.1:${stack.ports.ws}`);
  const ua = new JsSIP.UA({
    sockets: [socket], uri: `sip:alice@${DOMAIN}`, password, register: true, register_expires: 120,
    connection_recovery_min_interval: 30, connection_recovery_max_interval: 60,
  });
  return new Promise((resolve) => {
    ua.on('registered', () => resolve({ ok: true, ua }));
    ua.on('registrationFailed', (e: { cause?: string }) => resolve({ ok: false, cause: String(e.cause), ua }));
    ua.start();
  });
}

describe('JsSIP over WebSocket against the registrar', () => {
  it('registers with digest auth and the binding keeps the WebSocket flow', async () => {
    const { ok, ua, cause } = await register('s3cret');
    try {
      expect(ok, cause).toBe(true);
      const bindings = stack.registrar.lookup('alice');
      expect(bindings).toHaveLength(1);
      expect(bindings[0]!.source.transport).toBe('ws');
      expect(bindings[0]!.source.flowId).toBeTruthy();
      expect(bindings[0]!.contact.uri.params.get('transport')).toBe('ws');
      // the server can reach the browser user over its flow: an OPTIONS to the contact comes back 200 from JsSIP
      const b = bindings[0]!;
      const res = await stack.userAgent.sendOptions(b.contact.uri.toString(), {
        destination: { transport: 'ws', address: b.source.address, port: b.source.port, flowId: b.source.flowId as string },
      });
      expect(res.status).toBe(200);
      ua.unregister();
      await waitFor(() => stack.registrar.lookup('alice').length === 0, 5000, 'unregistration');
    } finally {
      ua.stop();
    }
  });

  it('rejects a wrong password', async () => {
    const { ok, ua, cause } = await register('wrong');
    ua.stop();
    expect(ok).toBe(false);
    expect(cause).toMatch(/Authentication|Rejected|Forbidden/i);
    expect(stack.registrar.lookup('alice')).toHaveLength(0);
  });
});
