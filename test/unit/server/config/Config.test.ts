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

  it('refuses unknown settings and variables, naming them and the nearest valid name', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-config-'));
    const file = path.join(dir, 'conflux.json');
    writeFileSync(file, JSON.stringify({ http: { prot: 9000 } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(`invalid configuration (${file} and environment): http.prot: unknown setting (did you mean "port"?)`);
    expect(() => loadConfig({ env: {}, overrides: { htttp: {} } as never })).toThrow('htttp: unknown setting (did you mean "http"?)');
    expect(() => loadConfig({ env: {}, overrides: { sip: { users: [{ username: 'a', password: 'b', pasword: 'c' }] } } as never }))
      .toThrow('sip.users.0.pasword: unknown setting');
    expect(() => loadConfig({ env: { CONFLUX_HTTP_PROT: '9000' } })).toThrow('unknown environment variable CONFLUX_HTTP_PROT (did you mean CONFLUX_HTTP_PORT?)');
    expect(() => loadConfig({ env: { CONFLUX_SOMETHING_ELSE_ENTIRELY: '1' } })).toThrow(/^unknown environment variable CONFLUX_SOMETHING_ELSE_ENTIRELY$/);
    // The config file's own variable and the build's and tests' are no settings, and not refused.
    expect(loadConfig({ env: { CONFLUX_CACHE_DIR: '/tmp', CONFLUX_IN_TEST_NETNS: '1' } }).http.port).toBe(8080);
    writeFileSync(file, '[1, 2]');
    expect(() => loadConfig({ file, env: {} })).toThrow(`config file ${file}: not a JSON object`);
  });

  it('refuses addresses that are none', () => {
    expect(() => loadConfig({ env: { CONFLUX_RTC_ANNOUNCED_ADDRESS: 'not..an..ip' } })).toThrow('rtc.announcedAddress: not an IP address or a DNS name');
    expect(() => loadConfig({ env: { CONFLUX_RTC_LISTEN_IP: 'eth0' } })).toThrow('rtc.listenIp: not an IP address');
    expect(() => loadConfig({ env: { CONFLUX_SIP_HOST: 'localhost' } })).toThrow('sip.host: not an IP address');
    expect(() => loadConfig({ env: { CONFLUX_HTTP_HOST: 'bad host' } })).toThrow('http.host: not an IP address or a DNS name');
    const config = loadConfig({ env: { CONFLUX_RTC_ANNOUNCED_ADDRESS: 'media.example.com', CONFLUX_HTTP_HOST: 'localhost', CONFLUX_RTC_LISTEN_IP: '::' } });
    expect(config.rtc.announcedAddress).toBe('media.example.com');
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
