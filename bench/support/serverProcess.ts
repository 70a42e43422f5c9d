import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A conflux server a benchmark runs as its own process, as an operator would (`server/main.ts`). */
export interface ServerProcess {
  pid: number;
  /** `http://host:port/api/v1`. */
  api: string;
  /** POSTs `body` to the API (201 expected) with the configured key. */
  post: (path: string, body: unknown) => Promise<void>;
  close: () => Promise<void>;
}

/**
 * Starts the server on `config` (a config file's contents; `http.host`/`http.port` and `auth.apiKey` must be
 * set, `dataDir` is filled in) and resolves once `/readyz` answers.
 */
export async function startServerProcess(config: Record<string, unknown> & {
  http: { host: string; port: number; [key: string]: unknown }; auth: { apiKey: string; [key: string]: unknown };
}, prefix = 'bench-server-'): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, dataDir: join(dir, 'data') }));
  const worker = execFileSync('bash', ['scripts/build-mediasoup-worker.sh', '--path'], { encoding: 'utf8' }).trim();
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, CONFLUX_CONFIG: join(dir, 'config.json'), MEDIASOUP_WORKER_BIN: worker }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://${config.http.host}:${config.http.port}`;
  const close = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const deadline = Date.now() + 60_000; ;) {
      try {
        if ((await fetch(`${origin}/readyz`)).ok) break;
      } catch {
        // not up yet
      }
      if (server.exitCode !== null || Date.now() > deadline) throw new Error('server did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    await close();
    throw error;
  }
  const api = `${origin}/api/v1`;
  return {
    pid: server.pid!,
    api,
    post: async (path, body) => {
      const response = await fetch(`${api}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${config.auth.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    },
    close,
  };
}

/** Resident memory (kB) and open descriptors of a process, from /proc. */
export function processFootprint(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  const fds = execFileSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  return { rssKb, fds };
}
