import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startTestServer } from '../../support/testServer.js';

describe('SIP trunks and dispatch rules over REST', () => {
  it('creates, validates, redacts and keeps them across a restart', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'conflux-sipapi-'));
    let server = await startTestServer({ dataDir });
    try {
      const trunk = { id: 'pbx', name: 'Office PBX', allowedAddresses: ['127.0.0.1'], auth: { username: 'pbx', password: 's3cret' } };
      const created = await api(server, 'POST', '/api/v1/sip/inbound-trunks', trunk);
      expect(created.status).toBe(201);
      const body = await created.json();
      expect(body.auth).toEqual({ username: 'pbx', passwordSet: true });
      expect(JSON.stringify(body)).not.toContain('s3cret');
      expect((await api(server, 'POST', '/api/v1/sip/inbound-trunks', trunk)).status).toBe(409);

      const bad: Array<[string, unknown, RegExp]> = [
        ['/api/v1/sip/inbound-trunks', { id: 'open', name: 'Open' }, /allowedAddresses or auth/],
        ['/api/v1/sip/inbound-trunks', { id: 'x', name: 'X', allowedAddresses: ['10.0.0.0/40'] }, /CIDR/],
        ['/api/v1/sip/outbound-trunks', { id: 'o', name: 'O', host: 'bad host!', fromNumber: '100' }, /host/],
        ['/api/v1/sip/outbound-trunks', { id: 'o', name: 'O', host: 'sip.example.net', fromNumber: '100', transport: 'sctp' }, /transport/],
        ['/api/v1/sip/dispatch-rules', { id: 'r', name: 'R', type: 'direct', room: 'standup', trunkIds: ['ghost'] }, /ghost does not exist/],
        ['/api/v1/sip/dispatch-rules', { id: 'r', name: 'R', type: 'direct' }, /room/],
      ];
      for (const [route, payload, message] of bad) {
        const response = await api(server, 'POST', route, payload);
        expect(response.status, JSON.stringify(payload)).toBe(400);
        expect((await response.json()).error.message).toMatch(message);
      }

      const out = { id: 'carrier', name: 'Carrier', host: '127.0.0.1', port: 5090, fromNumber: '+15550100', register: true, auth: { username: 'u', password: 'p' } };
      expect((await api(server, 'POST', '/api/v1/sip/outbound-trunks', out)).status).toBe(201);
      const rule = { id: 'standup', name: 'Standup', type: 'direct', room: 'standup', trunkIds: ['pbx'], pin: '1234' };
      expect((await api(server, 'POST', '/api/v1/sip/dispatch-rules', rule)).status).toBe(201);
      expect((await api(server, 'DELETE', '/api/v1/sip/inbound-trunks/pbx')).status).toBe(409);
      const replaced = await api(server, 'PUT', '/api/v1/sip/dispatch-rules/standup', { ...rule, id: undefined, room: 'daily' });
      expect(replaced.status).toBe(200);
      expect((await api(server, 'PUT', '/api/v1/sip/dispatch-rules/standup', { ...rule, id: 'other' })).status).toBe(400);
      expect((await api(server, 'GET', '/api/v1/sip/inbound-trunks', undefined, null)).status).toBe(401);
    } finally {
      await server.close();
    }

    server = await startTestServer({ dataDir });
    try {
      const trunks = await (await api(server, 'GET', '/api/v1/sip/inbound-trunks')).json();
      expect(trunks.inboundTrunks).toHaveLength(1);
      expect(trunks.inboundTrunks[0]).toMatchObject({ id: 'pbx', auth: { passwordSet: true } });
      expect(await (await api(server, 'GET', '/api/v1/sip/dispatch-rules/standup')).json()).toMatchObject({ room: 'daily', pin: '1234' });
      expect(await (await api(server, 'GET', '/api/v1/sip/outbound-trunks/carrier')).json()).toMatchObject({ register: true, port: 5090 });
      expect((await api(server, 'DELETE', '/api/v1/sip/dispatch-rules/standup')).status).toBe(204);
      expect((await api(server, 'DELETE', '/api/v1/sip/inbound-trunks/pbx')).status).toBe(204);
      expect((await api(server, 'GET', '/api/v1/sip/inbound-trunks/pbx')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('stores routes, checks the trunks they name and keeps those trunks while routes use them', async () => {
    const server = await startTestServer();
    try {
      const toPbx = { id: 'to-pbx', name: 'every browser call to the PBX', type: 'user-to-trunk', outboundTrunkId: 'pbx-out', prefixes: ['1'] };
      const missing = await api(server, 'POST', '/api/v1/sip/routes', toPbx);
      expect(missing.status).toBe(400);
      expect((await missing.json()).error.message).toMatch(/outbound trunk pbx-out does not exist/);
      expect((await api(server, 'POST', '/api/v1/sip/outbound-trunks', { id: 'pbx-out', name: 'PBX', host: '127.0.0.1', fromNumber: '2000' })).status).toBe(201);
      const created = await api(server, 'POST', '/api/v1/sip/routes', toPbx);
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ ...toPbx, stripDigits: 0, addPrefix: '', callerId: 'user', priority: 100, users: [] });

      const toUser = { id: 'to-alice', name: 'reception', type: 'trunk-to-user', trunkIds: ['pbx-in'], numbers: ['2000'], user: 'alice' };
      expect((await api(server, 'POST', '/api/v1/sip/routes', toUser)).status).toBe(400);
      expect((await api(server, 'POST', '/api/v1/sip/inbound-trunks', { id: 'pbx-in', name: 'PBX', allowedAddresses: ['127.0.0.1'] })).status).toBe(201);
      expect((await api(server, 'POST', '/api/v1/sip/routes', toUser)).status).toBe(201);
      const bad = await api(server, 'POST', '/api/v1/sip/routes', { id: 'x', name: 'X', type: 'user-to-trunk', outboundTrunkId: 'pbx-out', stripDigits: -1 });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.message).toMatch(/stripDigits/);

      const inUse = await api(server, 'DELETE', '/api/v1/sip/outbound-trunks/pbx-out');
      expect(inUse.status).toBe(409);
      expect((await inUse.json()).error.message).toMatch(/route to-pbx/);
      expect((await api(server, 'DELETE', '/api/v1/sip/inbound-trunks/pbx-in')).status).toBe(409);
      expect((await (await api(server, 'GET', '/api/v1/sip/routes')).json()).routes.map((route: { id: string }) => route.id).sort())
        .toEqual(['to-alice', 'to-pbx']);
      expect((await api(server, 'DELETE', '/api/v1/sip/routes/to-pbx')).status).toBe(204);
      expect((await api(server, 'DELETE', '/api/v1/sip/outbound-trunks/pbx-out')).status).toBe(204);
      const openApi = await (await api(server, 'GET', '/openapi.json')).json();
      expect(openApi.paths['/sip/routes'].description).toMatch(/in this order/);
      expect(openApi.paths['/sip/routes/{id}'].put).toBeDefined();
    } finally {
      await server.close();
    }
  });
});
