import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedSchema, openApiDocument } from '../../../server/api/openApiDocument.js';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { OPUS_RTP_PARAMETERS, SignallingTestClient } from '../../support/SignallingTestClient.js';
import { api, startTestServer } from '../../support/testServer.js';

type Operation = { operationId?: string; tags?: string[]; summary?: string; responses?: Record<string, Record<string, unknown>> };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every operation of the document, with its path and method. */
function operations(doc: Record<string, unknown>): Array<{ path: string; method: string; operation: Operation }> {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, operation: item[method] as Operation })));
}

describe('the OpenAPI document', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 }, auth: { guestJoin: true } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is valid OpenAPI 3.1, and every operation has a unique operationId, a tag and a summary', async () => {
    const doc = await (await api(server, 'GET', '/openapi.json', undefined, null)).json() as Record<string, unknown>;
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    const all = operations(doc);
    expect(all.length).toBeGreaterThan(30);
    const ids = all.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(all.length);
    const declared = new Set((doc.tags as Array<{ name: string }>).map((tag) => tag.name));
    for (const { path, method, operation } of all) {
      expect(operation.summary, `${method} ${path}`).toBeTruthy();
      expect(operation.tags?.every((tag) => declared.has(tag)), `${method} ${path} tags`).toBe(true);
    }
    expect(ids).toEqual(expect.arrayContaining(['getRooms', 'postRoomsByRoomParticipantsByParticipantMute', 'getHealthz', 'getReadyz', 'getMetrics']));
  });

  it('documents routes the server has: each one answers something other than "no route"', async () => {
    for (const { path, method } of operations(openApiDocument())) {
      const root = ['/healthz', '/readyz', '/metrics'].includes(path);
      const url = `${root ? '' : '/api/v1'}${path.replace(/\{[^}]+\}/g, 'x')}`;
      // Served streams (events) are only opened: their headers are enough.
      const response = await api(server, method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {});
      const body = response.headers.get('content-type')?.includes('json') ? await response.text() : '';
      if (!response.headers.get('content-type')?.includes('json')) await response.body?.cancel();
      expect(body, `${method} ${url}`).not.toMatch(/no route/);
    }
  });

  it('documents every route of the API the server serves', () => {
    type Layer = { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: Layer[] }; rawPath?: unknown };
    const app = server.httpServer.listeners('request')[0] as unknown as { router: { stack: Layer[] } };
    const served: string[] = [];
    const walk = (stack: Layer[], prefix: string): void => {
      for (const layer of stack) {
        if (layer.route) {
          for (const method of Object.keys(layer.route.methods)) {
            for (const path of [layer.route.path].flat()) served.push(`${method} ${prefix}${path}`);
          }
        } else if (layer.handle?.stack) {
          for (const mount of [layer.rawPath].flat()) walk(layer.handle.stack, `${prefix}${typeof mount === 'string' && mount !== '/' ? mount : ''}`);
        }
      }
    };
    walk(app.router.stack, '');
    const api = served.filter((route) => /^\w+ (\/api\/v1\/|\/healthz$|\/readyz$|\/metrics$)/.test(route))
      .map((route) => route.replace(' /api/v1/', ' /').replace(/:(\w+)/g, '{$1}'));
    expect(api.length).toBeGreaterThan(30);
    const documented = new Set(operations(openApiDocument()).map(({ method, path }) => `${method} ${path}`));
    expect(api.filter((route) => !documented.has(route))).toEqual([]);
  });

  it('types every JSON success response, with an example its schema accepts', () => {
    for (const { path, method, operation } of operations(openApiDocument())) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const content = response.content as Record<string, { example?: unknown }> | undefined;
        if (!status.startsWith('2') || !content?.['application/json']) continue;
        const schema = documentedSchema(response);
        expect(schema, `${method} ${path} ${status} is untyped`).toBeDefined();
        const parsed = schema!.safeParse(content['application/json'].example);
        expect(parsed.success, `${method} ${path} ${status} example: ${parsed.error?.message}`).toBe(true);
      }
    }
  });

  it('answers every operation with what its typed response says, field for field', async () => {
    const doc = openApiDocument();
    const checked = new Set<string>();
    /** Calls the server and checks the body against the schema documented for the path, method and status it answered. */
    const call = async <T = unknown>(method: string, path: string, url: string, body?: unknown, apiKey?: string | null): Promise<T> => {
      const root = ['/healthz', '/readyz'].includes(path);
      const response = await api(server, method, `${root ? '' : '/api/v1'}${url}`, body, apiKey);
      const item = (doc.paths as Record<string, Record<string, Operation>>)[path]?.[method.toLowerCase()];
      const documented = item?.responses?.[String(response.status)];
      const text = await response.text();
      expect(documented, `${method} ${url} answered ${response.status} ${text}, which is not documented`).toBeDefined();
      const schema = documentedSchema(documented!);
      expect(schema, `${method} ${path} ${response.status} is untyped`).toBeDefined();
      const parsed = schema!.safeParse(JSON.parse(text));
      expect(parsed.success, `${method} ${url} ${response.status}: ${parsed.error?.message}\n${text}`).toBe(true);
      checked.add(`${method.toLowerCase()} ${path}`);
      return JSON.parse(text) as T;
    };
    await call('GET', '/healthz', '/healthz');
    await call('GET', '/readyz', '/readyz');
    await call('POST', '/rooms', '/rooms', { name: 'typed', maxParticipants: 4 });
    await call('GET', '/rooms', '/rooms?limit=10');
    await call('GET', '/rooms/{room}', '/rooms/typed');
    await call('POST', '/tokens', '/tokens', { room: 'typed', identity: 'tess' });
    await call('POST', '/guest-tokens', '/guest-tokens', { room: 'typed', name: 'Guest' }, null);
    // A participant with a producer, for the participant responses.
    const client = await SignallingTestClient.connect(server.httpUrl);
    try {
      const joined = await client.call<{ participantId: string }>('join', { token: (await server.tokens.issue({ room: 'typed', identity: 'tess', name: 'Tess' })).token });
      const send = await client.call<{ id: string }>('createWebRtcTransport', { direction: 'send' });
      await client.call('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS, source: 'mic' });
      const participants = await call<{ participants: Array<{ producers: unknown[] }> }>('GET', '/rooms/{room}/participants', '/rooms/typed/participants');
      expect(participants.participants[0]!.producers).toHaveLength(1);
      await call('GET', '/rooms/{room}/participants/{participant}', `/rooms/typed/participants/${joined.participantId}`);
      await call('POST', '/rooms/{room}/participants/{participant}/mute', `/rooms/typed/participants/${joined.participantId}/mute`,
        { kind: 'audio', muted: true });
    } finally {
      client.close();
    }
    const trunkIn = { id: 'in', name: 'In', allowedAddresses: ['192.0.2.0/24'], auth: { username: 'u', password: 'p' } };
    const trunkOut = { id: 'out', name: 'Out', host: 'nowhere.invalid', fromNumber: '100', register: true, auth: { username: 'u', password: 'p' } };
    const rule = { id: 'r', name: 'R', type: 'direct', room: 'typed', pin: '1234' };
    const route = { id: 'rt', name: 'Rt', type: 'user-to-trunk', outboundTrunkId: 'out' };
    for (const [path, item] of [['/sip/inbound-trunks', trunkIn], ['/sip/outbound-trunks', trunkOut], ['/sip/dispatch-rules', rule], ['/sip/routes', route]] as const) {
      await call('POST', path, path, item);
      await call('GET', path, path);
      await call('GET', `${path}/{id}`, `${path}/${item.id}`);
      await call('PUT', `${path}/{id}`, `${path}/${item.id}`, { ...item, name: 'Renamed' });
      await call('PUT', `${path}/{id}`, `${path}/${item.id}2`, { ...item, id: `${item.id}2` });
    }
    // A dial-out whose trunk's host does not resolve: answered at once, not answered by a phone.
    const dialled = await call<{ outcome: string; call: { id: string } }>('POST', '/sip/calls', '/sip/calls', { room: 'typed', trunkId: 'out', to: '200' });
    expect(dialled.outcome).toBe('failed');
    await call('GET', '/sip/calls', '/sip/calls');
    await call('GET', '/sip/calls/{id}', `/sip/calls/${encodeURIComponent(dialled.call.id)}`);
    const registrations = await call<{ registrations: Array<{ trunkId: string }> }>('GET', '/sip/registrations', '/sip/registrations');
    expect(registrations.registrations.map((registration) => registration.trunkId)).toEqual(expect.arrayContaining(['out']));
    // Every operation that answers JSON on success was called and checked.
    const typedOperations = operations(doc).filter(({ operation }) => Object.entries(operation.responses ?? {})
      .some(([status, response]) => status.startsWith('2') && (response.content as Record<string, unknown> | undefined)?.['application/json']))
      .map(({ path, method }) => `${method} ${path}`);
    expect(typedOperations.filter((key) => !checked.has(key))).toEqual([]);
  });
});
