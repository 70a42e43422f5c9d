/**
 * Calls-per-second benchmark: SIPp's built-in uac drives a UAS built on the stack (answers 200 with SDP,
 * accepts BYE) over UDP on loopback at increasing rates. Prints the sustained rate per step (only steps
 * with zero failed calls count) and the INVITE→200 latency percentiles SIPp measured.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SipServer } from '../../sip-connector/SipServer.js';

const RATES = (process.env.SIP_CPS_RATES ?? '100,200,400,800').split(',').map(Number);
const SECONDS = Number(process.env.SIP_CPS_SECONDS ?? 4);
const SDP = ['v=0', 'o=conflux 1 1 IN IP4 127.0.0.1', 's=conflux', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

interface StepResult { rate: number; calls: number; failed: number; seconds: number; p50: number; p99: number; exit: number | null }

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function runStep(port: number, rate: number, localPort: number): Promise<StepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sip-cps-'));
  const calls = rate * SECONDS;
  const started = Date.now();
  const proc = spawn('sipp', ['-sn', 'uac', `127.0.0.1:${port}`, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(localPort),
    '-r', String(rate), '-m', String(calls), '-l', String(rate * 4), '-nostdin', '-timeout', '60s', '-timeout_error',
    '-trace_rtt', '-rtt_freq', '1', '-trace_stat', '-fd', '1'], { cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
  const kill = setTimeout(() => { if (proc.pid) process.kill(proc.pid, 'SIGKILL'); }, 90_000);
  const exit = await new Promise<number | null>((r) => proc.once('exit', r));
  clearTimeout(kill);
  const seconds = (Date.now() - started) / 1000;
  const files = readdirSync(dir);
  const rttFile = files.find((f) => f.endsWith('_rtt.csv'));
  const rtts: number[] = [];
  if (rttFile) {
    for (const line of readFileSync(join(dir, rttFile), 'utf8').split('\n').slice(1)) {
      const cols = line.split(';');
      const v = Number(cols[1]);
      if (cols.length >= 3 && cols[1] !== '' && Number.isFinite(v)) rtts.push(v);
    }
  }
  let failed = exit === 0 ? 0 : -1;
  const statFile = files.find((f) => f.endsWith('_.csv') || (f.endsWith('.csv') && !f.endsWith('_rtt.csv')));
  if (statFile) {
    const lines = readFileSync(join(dir, statFile), 'utf8').trim().split('\n');
    const head = (lines[0] ?? '').split(';');
    const last = (lines.at(-1) ?? '').split(';');
    const idx = head.indexOf('FailedCall(C)');
    if (idx >= 0) failed = Number(last[idx]);
  }
  rmSync(dir, { recursive: true, force: true });
  rtts.sort((a, b) => a - b);
  return { rate, calls, failed, seconds, p50: percentile(rtts, 50), p99: percentile(rtts, 99), exit };
}

async function main(): Promise<void> {
  const server = await SipServer.start({ host: '127.0.0.1', udpPort: 0, tcpPort: null, domain: '127.0.0.1', users: [] },
    pino({ level: 'warn' }));
  server.userAgent.onInvite((call) => call.answer(SDP));
  const port = server.ports.udp as number;
  console.log(`UAS on udp 127.0.0.1:${port}; ${SECONDS} s per step`);
  console.log('target cps | calls | failed | wall s | achieved cps | INVITE→200 p50 ms | p99 ms');
  let best = 0;
  try {
    for (const [i, rate] of RATES.entries()) {
      const r = await runStep(port, rate, 27000 + i);
      const achieved = r.calls / r.seconds;
      console.log(`${String(rate).padStart(10)} | ${String(r.calls).padStart(5)} | ${String(r.failed).padStart(6)} | ${r.seconds.toFixed(1).padStart(6)} | ${achieved.toFixed(0).padStart(12)} | ${r.p50.toFixed(2).padStart(17)} | ${r.p99.toFixed(2).padStart(6)}`);
      if (r.failed === 0 && r.exit === 0) best = Math.max(best, rate);
      else break;
    }
  } finally {
    await server.close();
  }
  console.log(`sustained: ${best} calls/s with 0 failed calls`);
}

await main();
