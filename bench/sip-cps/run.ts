/**
 * Calls-per-second benchmark: SIPp's built-in uac calls over UDP on loopback at increasing rates and prints,
 * per step, the rate SIPp achieved and the INVITE→200 latency it measured. A step counts as sustained only
 * with no failed call, an achieved rate within 5 % of the target and a p99 under SIP_CPS_P99_MS (100 ms).
 *
 *   SIP_CPS_MODE=stack    (default) a UAS on the SIP stack alone, answering 200 with SDP
 *   SIP_CPS_MODE=product  the server itself: each INVITE through an inbound trunk and a dispatch rule into a
 *                         room, answered with a phone leg on the room's mixer (what an operator sizes by)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SipServer } from '../../sip-connector/SipServer.js';
import { startServerProcess } from '../support/serverProcess.js';

const MODE = process.env.SIP_CPS_MODE ?? 'stack';
const RATES = (process.env.SIP_CPS_RATES ?? (MODE === 'product' ? '50,100,200,300,400' : '100,200,400,800,1600')).split(',').map(Number);
const SECONDS = Number(process.env.SIP_CPS_SECONDS ?? 4);
const P99_LIMIT_MS = Number(process.env.SIP_CPS_P99_MS ?? 100);
/** Calls in flight at most (SIPp -l); the product's room holds them all. */
const IN_FLIGHT = Number(process.env.SIP_CPS_IN_FLIGHT ?? 64);
const PRODUCT_PORTS = { http: 18580, sip: 15560 };
const SDP = ['v=0', 'o=conflux 1 1 IN IP4 127.0.0.1', 's=conflux', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

interface StepResult {
  rate: number; calls: number; failed: number; seconds: number; p50: number; p99: number; exit: number | null;
  /** Calls per second SIPp achieved while placing them (its cumulative call rate), else calls over wall time. */
  achieved: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function runStep(port: number, rate: number, localPort: number, calls = rate * SECONDS): Promise<StepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sip-cps-'));
  const started = Date.now();
  const proc = spawn('sipp', ['-sn', 'uac', `127.0.0.1:${port}`, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(localPort),
    '-r', String(rate), '-m', String(calls), '-l', String(IN_FLIGHT), '-nostdin', '-timeout', '60s', '-timeout_error',
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
  let achieved = calls / seconds;
  const statFile = files.find((f) => f.endsWith('_.csv') || (f.endsWith('.csv') && !f.endsWith('_rtt.csv')));
  if (statFile) {
    const lines = readFileSync(join(dir, statFile), 'utf8').trim().split('\n');
    const head = (lines[0] ?? '').split(';');
    const last = (lines.at(-1) ?? '').split(';');
    const idx = head.indexOf('FailedCall(C)');
    if (idx >= 0) failed = Number(last[idx]);
    const rateIdx = head.indexOf('CallRate(C)');
    if (rateIdx >= 0 && Number(last[rateIdx]) > 0) achieved = Number(last[rateIdx]);
  }
  rmSync(dir, { recursive: true, force: true });
  rtts.sort((a, b) => a - b);
  return { rate, calls, failed, seconds, p50: percentile(rtts, 50), p99: percentile(rtts, 99), exit, achieved };
}

/** The UDP port calls go to, and how to stop what answers them. */
interface Target { port: number; describe: string; close: () => Promise<void> }

async function stackTarget(): Promise<Target> {
  const server = await SipServer.start({ host: '127.0.0.1', udpPort: 0, tcpPort: null, domain: '127.0.0.1', users: [] },
    pino({ level: 'warn' }));
  server.userAgent.onInvite((call) => call.answer(SDP));
  return { port: server.ports.udp as number, describe: 'a UAS on the SIP stack', close: () => server.close() };
}

/** The server as its own process, with a trunk for 127.0.0.1 and a rule sending every call to one room. */
async function productTarget(): Promise<Target> {
  const server = await startServerProcess({
    http: { host: '127.0.0.1', port: PRODUCT_PORTS.http, serveClient: false },
    rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' },
    auth: { apiKey: 'bench-api-key-0123456789', jwtSecret: 'bench-jwt-secret-0123456789-0123456789' },
    rooms: { maxParticipants: IN_FLIGHT * 2 },
    sip: { host: '127.0.0.1', udpPort: PRODUCT_PORTS.sip, tcpPort: null, domain: '127.0.0.1', rateLimit: null, maxCalls: IN_FLIGHT * 4 },
    log: { level: process.env.SIP_CPS_LOG_LEVEL ?? 'warn' },
  }, 'sip-cps-product-');
  await server.post('/sip/inbound-trunks', { id: 'sipp', name: 'SIPp', allowedAddresses: ['127.0.0.1'] });
  await server.post('/sip/dispatch-rules', { id: 'cps', name: 'every call to one room', type: 'direct', room: 'cps' });
  return { port: PRODUCT_PORTS.sip, describe: 'the server: inbound trunk → dispatch rule → room with a phone leg', close: server.close };
}

async function main(): Promise<void> {
  const target = MODE === 'product' ? await productTarget() : await stackTarget();
  console.log(`${target.describe}, udp 127.0.0.1:${target.port}; ${SECONDS} s per step, at most ${IN_FLIGHT} calls in flight`);
  console.log('target cps | calls | failed | wall s | achieved cps | INVITE→200 p50 ms | p99 ms | sustained');
  let best: StepResult | null = null;
  try {
    // Not counted: the first call into a fresh server starts what later calls reuse (the product's first mixer thread).
    const warmUp = await runStep(target.port, 1, 26999, 1);
    console.log(`warm-up call (not counted): INVITE→200 ${warmUp.p50.toFixed(0)} ms`);
    for (const [i, rate] of RATES.entries()) {
      const r = await runStep(target.port, rate, 27000 + i);
      const sustained = r.failed === 0 && r.exit === 0 && r.achieved >= rate * 0.95 && r.p99 <= P99_LIMIT_MS;
      console.log(`${String(rate).padStart(10)} | ${String(r.calls).padStart(5)} | ${String(r.failed).padStart(6)} | ${r.seconds.toFixed(1).padStart(6)} | `
        + `${r.achieved.toFixed(0).padStart(12)} | ${r.p50.toFixed(2).padStart(17)} | ${r.p99.toFixed(2).padStart(6)} | ${sustained ? 'yes' : 'no'}`);
      if (!sustained) break;
      best = r;
    }
  } finally {
    await target.close();
  }
  console.log(best
    ? `sustained: ${best.achieved.toFixed(0)} calls/s achieved at a ${best.rate} calls/s target, 0 failed, INVITE→200 p99 ${best.p99.toFixed(1)} ms `
      + `(≤ ${P99_LIMIT_MS} ms, within 5 % of the target)`
    : `sustained: none (the first step, ${RATES[0]} calls/s, already failed, fell short of its target or had a p99 over ${P99_LIMIT_MS} ms)`);
}

await main();
