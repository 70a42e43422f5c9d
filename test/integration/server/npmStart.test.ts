import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  it('stops the server when npm itself gets SIGTERM (a service manager stopping it), instead of leaving it serving', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      http: { host: '127.0.0.1', port: PORT, serveClient: false }, rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
      sip: { enabled: false }, dataDir: join(dir, 'data'),
    }));
    const npm = spawn('npm', ['start'], { env: { ...process.env, CONFLUX_CONFIG: join(dir, 'config.json') }, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      while (!(await healthy())) {
        if (Date.now() > deadline) throw new Error('the server did not start');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      npm.kill('SIGTERM');
      await exited;
      const stopBy = Date.now() + 10_000;
      while (await healthy() && Date.now() < stopBy) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await healthy()).toBe(false);
    } finally {
      npm.kill('SIGKILL');
    }
  }, 60_000);
});
