import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const PORT = 18690;
const dir = mkdtempSync(join(tmpdir(), 'conflux-npm-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const healthy = async (): Promise<boolean> => {
  try {
    return (await fetch(`http://127.0.0.1:${PORT}/healthz`)).ok;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('is what the Docker image runs too, as PID 1 with nothing in between', () => {
    const root = join(import.meta.dirname, '../../..');
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'docker/Dockerfile'), 'utf8'))?.[1];
    expect(start).toMatch(/^exec /);
    expect(JSON.parse(cmd ?? 'null')).toEqual(start.replace(/^exec /, '').split(' '));
  });

  it('stops the server when npm itself gets SIGTERM (a service manager stopping it), instead of leaving it serving', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      http: { host: '127.0.0.1', port: PORT, serveClient: false }, rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
      sip: { enabled: false }, dataDir: join(dir, 'data'),
    }));
    // As a user's shell has it: no MEDIASOUP_WORKER_BIN (the test runner sets one), the server finds the worker itself.
    const { MEDIASOUP_WORKER_BIN: _set, ...userEnv } = process.env;
    const npm = spawn('npm', ['start'], { env: { ...userEnv, CONFLUX_CONFIG: join(dir, 'config.json') }, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      while (!(await healthy())) {
        if (Date.now() > deadline) throw new Error('the server did not start');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // The README's way to the key: the one the server generated in its data directory, found through the same config.
      const key = execFileSync('npx', ['--no-install', 'conflux', 'api-key'], { env: { ...userEnv, CONFLUX_CONFIG: join(dir, 'config.json') }, encoding: 'utf8' }).trim();
      expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect((await fetch(`http://127.0.0.1:${PORT}/api/v1/rooms`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
      npm.kill('SIGTERM');
      await exited;
      const stopBy = Date.now() + 10_000;
      while (await healthy() && Date.now() < stopBy) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await healthy()).toBe(false);
    } finally {
      npm.kill('SIGKILL');
    }
  }, 60_000);

  /** Runs the server as `npm start` does; resolves with its exit code and what it printed on stderr. */
  function startFails(env: Record<string, string>, config?: object): Promise<{ code: number | null; stderr: string }> {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({
      http: { host: '127.0.0.1', port: PORT + 1, serveClient: false }, rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
      sip: { enabled: false }, dataDir: join(dir, 'data'), mediasoup: { numWorkers: 1 }, ...config,
    }));
    const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env: { ...process.env, CONFLUX_CONFIG: file, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => server.kill('SIGKILL'), 30_000);
    return new Promise((resolve) => server.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }));
  }

  it('fails to start with exit code 2 and one line saying what to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(PORT + 1, '127.0.0.1', resolve));
    try {
      const inUse = await startFails({});
      expect(inUse.code).toBe(2);
      expect(inUse.stderr.trim()).toBe(`cannot listen on 127.0.0.1:${PORT + 1}: the port is in use by another process; stop it or change http.port (CONFLUX_HTTP_PORT)`);
    } finally {
      blocker.close();
    }
    const typo = await startFails({ CONFLUX_HTTP_PROT: '9000' });
    expect(typo).toEqual({ code: 2, stderr: 'unknown environment variable CONFLUX_HTTP_PROT (did you mean CONFLUX_HTTP_PORT?)\n' });
    const missingCert = await startFails({}, { http: { host: '127.0.0.1', port: PORT + 1, tls: { certFile: join(dir, 'none.pem'), keyFile: join(dir, 'none.key') } } });
    expect(missingCert.code).toBe(2);
    expect(missingCert.stderr.trim()).toBe(`file not found: ${join(dir, 'none.pem')}; check the paths in the configuration (TLS certFile/keyFile, dataDir)`);
  }, 90_000);

  /** Runs the server with `config` until its stdout has `ready` (or 30 s), then stops it; resolves with that stdout. */
  async function startedOutput(config: object, ready: RegExp): Promise<string> {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({
      http: { host: '127.0.0.1', port: PORT + 2, serveClient: false }, rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
      sip: { host: '127.0.0.1', udpPort: PORT + 3, tcpPort: null, domain: 'example.test' }, dataDir: join(dir, 'data-out'), mediasoup: { numWorkers: 1 },
      ...config,
    }));
    // The level is the file's: the test runner's CONFLUX_LOG_LEVEL would override it.
    const { CONFLUX_LOG_LEVEL: _level, ...env } = process.env;
    const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env: { ...env, CONFLUX_CONFIG: file }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      server.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (ready.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    return stdout;
  }

  it('prints one block and a readable line per event for a person, JSON lines with each field once otherwise', async () => {
    const human = await startedOutput({ log: { level: 'info', pretty: true } }, /CLI +npx conflux --help\n/);
    expect(human).toContain([
      'conflux is ready',
      `  REST API     http://127.0.0.1:${PORT + 2}/api/v1   (docs: http://127.0.0.1:${PORT + 2}/docs, OpenAPI: http://127.0.0.1:${PORT + 2}/openapi.json)`,
      `  SIP          udp ${PORT + 3} (domain example.test)`,
      `  API key      npx conflux api-key   (kept in ${join(dir, 'data-out', 'secrets.json')})`,
      '  CLI          npx conflux --help',
    ].join('\n'));
    expect(human).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: server: listening \{"url":/m);
    expect(human.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);

    const machine = await startedOutput({ log: { level: 'info', pretty: false } }, /"msg":"listening"/);
    const lines = machine.trim().split('\n');
    expect(lines.every((line) => line.startsWith('{'))).toBe(true);
    const sip = lines.find((line) => line.includes('"msg":"SIP listening"'));
    expect(sip, machine).toBeDefined();
    expect(sip!.match(/"component"/g)).toHaveLength(1);
    expect(JSON.parse(sip!)).toMatchObject({ component: 'sip', ports: { udp: PORT + 3 }, domain: 'example.test' });
    // The whole configuration is a debug line, not an info one; no block for a log collector.
    expect(machine).not.toMatch(/"msg":"starting"|conflux is ready/);
  }, 90_000);
});

