import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../server/api/openApiDocument.js';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { api, startTestServer } from '../../support/testServer.js';

type Operation = { operationId?: string; tags?: string[]; summary?: string };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every operation of the document, with its path and method. */
function operations(doc: Record<string, unknown>): Array<{ path: string; method: string; operation: Operation }> {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, operation: item[method] as Operation })));
}

describe('the OpenAPI document', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
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
});
