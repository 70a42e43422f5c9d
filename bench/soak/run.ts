/**
 * Soak: SIPp places SOAK_CPS calls per second (20) for SOAK_MINUTES (30) into SOAK_ROOMS rooms (4) of a conflux
 * server running as its own process, each call streaming a PCMU tone for SOAK_CALL_SECONDS (10) before its BYE,
 * through an inbound trunk and a `callee` dispatch rule. The server's memory (its process and its mediasoup
 * workers) and descriptors are sampled every SOAK_SAMPLE_SECONDS (5) all along; printed: a line per 30 s, failed
 * calls, and the RSS drift after the run's first fifth (warm-up): the least-squares slope of each minute's lowest
 * sample, since the garbage collector's sawtooth (tens of MB) would swamp a slope through every sample.
 * Goal: 0 failed calls, drift < 1 MB/min, no descriptor left over per call.
 *
 *   unshare -r -n bash -c 'ip link set lo up && SOAK_MINUTES=30 npm run --silent bench:soak'
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processFootprint, startServerProcess } from '../support/serverProcess.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const CPS = Number(process.env.SOAK_CPS ?? 20);
const CALL_SECONDS = Number(process.env.SOAK_CALL_SECONDS ?? 10);
const ROOMS = Number(process.env.SOAK_ROOMS ?? 4);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 5);
const PRINT_SECONDS = 30;
const PORTS = { http: 18680, sip: 15660, sipp: 25660 };
const HOST = '127.0.0.1';
const GOAL_DRIFT_MB_PER_MIN = 1;

interface Sample { seconds: number; rssKb: number; workersRssKb: number; fds: number; calls: number }

/** The mediasoup workers of the server (its child processes). */
function workerPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    .filter((child) => readFileSync(`/proc/${child}/comm`, 'utf8').startsWith('mediasoup'));
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

/** SIPp's final counters from its statistics file. */
function sippTotals(dir: string): { successful: number; failed: number } {
  const file = readdirSync(dir).find((name) => name.endsWith('.csv') && !name.endsWith('_rtt.csv'));
  if (!file) return { successful: NaN, failed: NaN };
  const lines = readFileSync(join(dir, file), 'utf8').trim().split('\n');
  const head = (lines[0] ?? '').split(';');
  const last = (lines.at(-1) ?? '').split(';');
  return { successful: Number(last[head.indexOf('SuccessfulCall(C)')]), failed: Number(last[head.indexOf('FailedCall(C)')]) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-soak-'));
  const tone = join(dir, 'tone.ul');
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', String(CALL_SECONDS + 2), 'sine', '440', 'vol', '0.3']);
  const scenario = join(dir, 'uac-rtp.xml');
  writeFileSync(scenario, readFileSync(new URL('./uac-rtp.xml', import.meta.url), 'utf8')
    .replaceAll('@TONE@', tone).replaceAll('@CALL_MS@', String(CALL_SECONDS * 1000)));
  const rooms = join(dir, 'rooms.inf');
  writeFileSync(rooms, ['SEQUENTIAL', ...Array.from({ length: ROOMS }, (_, i) => `${1000 + i};`)].join('\n') + '\n');
  const concurrent = CPS * (CALL_SECONDS + 1);
  const server = await startServerProcess({
    http: { host: HOST, port: PORTS.http, serveClient: false },
    rtc: { listenIp: HOST, announcedAddress: HOST },
    auth: { apiKey: 'bench-api-key-0123456789', jwtSecret: 'bench-jwt-secret-0123456789-0123456789' },
    rooms: { maxParticipants: concurrent * 2 },
    sip: { host: HOST, udpPort: PORTS.sip, tcpPort: null, domain: HOST, rateLimit: null, maxCalls: concurrent * 4 },
    log: { level: process.env.SOAK_LOG_LEVEL ?? 'warn' },
  }, 'bench-soak-server-');
  const samples: Sample[] = [];
  try {
    await server.post('/sip/inbound-trunks', { id: 'sipp', name: 'SIPp', allowedAddresses: [HOST] });
    await server.post('/sip/dispatch-rules', { id: 'soak', name: 'each number its room', type: 'callee', roomPrefix: 'soak-' });
    const total = Math.round(MINUTES * 60 * CPS);
    console.log(`soak: ${CPS} calls/s for ${MINUTES} min (${total} calls), ${CALL_SECONDS} s of PCMU each, ${ROOMS} rooms, ~${CPS * CALL_SECONDS} calls up at once`);
    const sipp = spawn('sipp', ['-sf', scenario, '-inf', rooms, `${HOST}:${PORTS.sip}`, '-i', HOST, '-mi', HOST, '-p', String(PORTS.sipp),
      '-mp', '30000', '-r', String(CPS), '-m', String(total), '-l', String(concurrent * 2),
      '-nostdin', '-timeout', `${MINUTES * 60 + CALL_SECONDS + 120}s`, '-timeout_error', '-trace_stat', '-fd', String(SAMPLE_SECONDS)],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => sipp.once('exit', resolve));
    const started = Date.now();
    console.log('   s | server RSS MB (low-high) | workers RSS MB | fds | calls up');
    let done = false;
    void exited.then(() => { done = true; });
    let printed = 0;
    while (!done) {
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, SAMPLE_SECONDS * 1000))]);
      const { rssKb, fds } = processFootprint(server.pid);
      const workersRssKb = workerPids(server.pid).reduce((sum, pid) => sum + processFootprint(pid).rssKb, 0);
      const listed = await fetch(`${server.api}/sip/calls`, { headers: { authorization: 'Bearer bench-api-key-0123456789' } })
        .then((r) => r.json() as Promise<{ calls: Array<{ state: string }> }>).catch(() => ({ calls: [] }));
      const sample = { seconds: (Date.now() - started) / 1000, rssKb, workersRssKb, fds, calls: listed.calls.filter((c) => c.state !== 'ended').length };
      samples.push(sample);
      if (sample.seconds - printed >= PRINT_SECONDS || done) {
        const span = samples.filter((s) => s.seconds > printed).map((s) => s.rssKb / 1024);
        printed = sample.seconds;
        console.log(`${sample.seconds.toFixed(0).padStart(4)} | ${`${Math.min(...span).toFixed(0)}-${Math.max(...span).toFixed(0)}`.padStart(24)} | `
          + `${(workersRssKb / 1024).toFixed(1).padStart(14)} | ${String(fds).padStart(3)} | ${String(sample.calls).padStart(8)}`);
      }
    }
    const exit = await exited;
    const { successful, failed } = sippTotals(dir);
    const steady = samples.filter((s) => s.seconds >= (MINUTES * 60) / 5 && s.seconds <= MINUTES * 60);
    // Each minute's lowest sample: what is left after the garbage collector has run.
    const lows = new Map<number, Sample>();
    for (const s of steady) {
      const minute = Math.floor(s.seconds / 60);
      const low = lows.get(minute);
      if (!low || s.rssKb + s.workersRssKb < low.rssKb + low.workersRssKb) lows.set(minute, s);
    }
    const drift = (pick: (s: Sample) => number) => slope([...lows.values()].map((s) => [s.seconds / 60, pick(s) / 1024]));
    const serverDrift = drift((s) => s.rssKb);
    const totalDrift = drift((s) => s.rssKb + s.workersRssKb);
    const fdsDrift = slope(steady.map((s) => [s.seconds / 60, s.fds]));
    console.log(`calls: ${successful} successful, ${failed} failed (SIPp exit ${exit}); goal 0 failed: ${failed === 0 && exit === 0 ? 'met' : 'not met'}`);
    console.log(`RSS drift after the warm-up: server ${serverDrift.toFixed(2)} MB/min, server + workers ${totalDrift.toFixed(2)} MB/min `
      + `(goal < ${GOAL_DRIFT_MB_PER_MIN}: ${totalDrift < GOAL_DRIFT_MB_PER_MIN ? 'met' : 'not met'}, from ${lows.size} minutes' lows); `
      + `descriptors ${fdsDrift.toFixed(2)}/min`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
