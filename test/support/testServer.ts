import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ConfigInput } from '../../server/config/Config.js';
import { ConfluxServer } from '../../server/ConfluxServer.js';

export const TEST_API_KEY = 'test-api-key';
export const TEST_JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789';

type Overrides = { [K in Exclude<keyof ConfigInput, 'dataDir'>]?: Partial<ConfigInput[K]> } & { dataDir?: string };

/** A server on ephemeral loopback ports with known secrets, one worker and quiet logs. */
export async function startTestServer(overrides: Overrides = {}): Promise<ConfluxServer> {
  const base = {
    http: { host: '127.0.0.1', port: 0 },
    rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
    mediasoup: { numWorkers: 1 },
    auth: { apiKey: TEST_API_KEY, jwtSecret: TEST_JWT_SECRET },
    sip: { enabled: false },
    log: { level: 'warn' as const },
    dataDir: overrides.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'conflux-test-')),
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] = typeof value === 'object' && value !== null && typeof current === 'object' && current !== null
      ? { ...current, ...value } : value;
  }
  return ConfluxServer.start(loadConfig({ env: {}, overrides: merged as never }));
}

/** fetch against the server with the API key. */
export function api(server: ConfluxServer, method: string, route: string, body?: unknown, apiKey: string | null = TEST_API_KEY) {
  const headers: Record<string, string> = {};
  if (apiKey !== null) headers.authorization = `Bearer ${apiKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${server.httpUrl}${route}`, {
    method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}
