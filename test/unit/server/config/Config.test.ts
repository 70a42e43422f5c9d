import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../../../../server/config/Config.js';

describe('loadConfig', () => {
  it('gives the embedded defaults with nothing set', () => {
    const config = loadConfig({ env: {} });
    expect(config.http.port).toBe(8080);
    expect(config.sip.udpPort).toBe(5060);
    expect(config.sip.tcpPort).toBe(5060);
    expect(config.rtc.minPort).toBeLessThan(config.rtc.maxPort);
    expect(config.auth.guestJoin).toBe(true);
  });

  it('layers file, then environment, then overrides', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-config-'));
    const file = path.join(dir, 'conflux.json');
    writeFileSync(file, JSON.stringify({ http: { port: 9000, host: '127.0.0.1' }, rooms: { emptyTimeoutSeconds: 5 } }));
    const config = loadConfig({
      file, env: { CONFLUX_HTTP_PORT: '9100', CONFLUX_GUEST_JOIN: 'false' }, overrides: { rooms: { maxParticipants: 3 } },
    });
    expect(config.http.port).toBe(9100);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.rooms.emptyTimeoutSeconds).toBe(5);
    expect(config.rooms.maxParticipants).toBe(3);
    expect(config.auth.guestJoin).toBe(false);
  });

  it('refuses invalid values with the path in the message', () => {
    expect(() => loadConfig({ env: { CONFLUX_HTTP_PORT: '70000' } })).toThrow(/http\.port/);
    expect(() => loadConfig({ env: { CONFLUX_RTC_MIN_PORT: '50000', CONFLUX_RTC_MAX_PORT: '40000' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { CONFLUX_JWT_SECRET: 'short' } })).toThrow(/at least 32/);
    expect(() => loadConfig({ env: {}, file: '/nonexistent/conflux.json' })).toThrow(/cannot read config file/);
  });

  it('masks secrets for printing, keeping everything else', () => {
    const config = loadConfig({
      env: {}, overrides: { auth: { apiKey: 'k'.repeat(20) }, sip: { users: [{ username: 'alice', password: 'pw' }] } },
    });
    const masked = maskSecrets(config) as typeof config;
    expect(masked.auth.apiKey).toBe('***');
    expect(masked.sip.users[0]).toEqual({ username: 'alice', password: '***' });
    expect(JSON.stringify(masked)).not.toContain('kkkk');
    expect(masked.http.port).toBe(8080);
  });
});
