import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SipServer, type SipServerOptions } from '../../../sip-connector/SipServer.js';

/** A spawned peer process, killed by PID on timeout or on `stop()`. */
export interface Peer {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}

const running = new Set<Peer>();

/** Spawns a peer with a hard timeout; its output is kept for assertions and failure messages. */
export function spawnPeer(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Peer {
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', (err) => { out += String(err); resolve(-1); });
  });
  const killTimer = setTimeout(() => { if (proc.pid) process.kill(proc.pid, 'SIGKILL'); }, opts.timeoutMs);
  const peer: Peer = {
    proc, exited, output: () => out,
    stop: async () => {
      clearTimeout(killTimer);
      if (proc.exitCode === null && proc.signalCode === null && proc.pid) {
        try { process.kill(proc.pid, 'SIGTERM'); } catch { /* already gone */ }
        const t = setTimeout(() => { try { if (proc.pid) process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 2000);
        await exited;
        clearTimeout(t);
      }
      running.delete(peer);
    },
  };
  void exited.then(() => { clearTimeout(killTimer); running.delete(peer); });
  running.add(peer);
  return peer;
}

/** Stops every peer still running (for afterAll). */
export async function stopAllPeers(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A fresh scratch directory. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `conflux-${prefix}-`));
}

/** The logger tests give the stack (quiet unless SIP_TEST_LOG is set). */
export const testLogger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });

/** Starts the stack on loopback with ephemeral ports unless told otherwise. */
export function startStack(opts: Partial<SipServerOptions> = {}): Promise<SipServer> {
  return SipServer.start({ host: '127.0.0.1', udpPort: 0, tcpPort: 0, domain: '127.0.0.1', users: [], ...opts }, testLogger);
}

/** A minimal audio SDP offering or answering PCMU on `port`. */
export function pcmuSdp(port: number): string {
  return ['v=0', `o=conflux ${Date.now()} 1 IN IP4 127.0.0.1`, 's=conflux', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
