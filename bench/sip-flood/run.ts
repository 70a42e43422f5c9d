/**
 * SIP flood benchmark: OPTIONS floods over UDP on loopback against the SIP endpoint (the stack as the
 * server runs it), with a legitimate prober sending 20 OPTIONS/s from another address. Prints:
 *   - the OPTIONS rate one core answers (no limiter, one flooding source, rising offered rates);
 *   - with the server's default limits (`sip.rateLimit`): what is answered and the prober's success,
 *     while one source floods and while forty do (127.0.0.2–41), at multiples of that capacity.
 * Goal: the prober keeps ≥ 99 % answered at any rate from one source, ≥ 95 % from forty.
 *
 *   unshare -n bash -c 'ip link set lo up && npm run bench:sip-flood'
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { ConfigSchema } from '../../server/config/Config.js';
import { SipServer } from '../../sip-connector/SipServer.js';
import type { RateLimit } from '../../sip-connector/sip/SourceRateLimiter.js';

const SECONDS = Number(process.env.SIP_FLOOD_SECONDS ?? 5);
const PROBER = '127.0.0.250';
const PROBES_PER_SECOND = 20;

interface StepResult { offered: number; answered: number; proberSent: number; proberAnswered: number; cpu: number; kernelDrops: number }

/** UDP datagrams the kernel dropped for full receive queues, all sockets (/proc/net/snmp). */
function kernelDrops(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Udp:'));
  const head = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[head.indexOf('RcvbufErrors')]);
}

/** Sends one OPTIONS every 50 ms and counts those answered within a second. */
async function prober(port: number, seconds: number): Promise<{ sent: number; answered: number }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, PROBER, resolve));
  const pending = new Map<string, number>();
  let answered = 0;
  socket.on('message', (data) => {
    const id = /Call-ID:\s*(\S+)/i.exec(data.toString('latin1'))?.[1];
    if (id && pending.has(id)) {
      if (performance.now() - pending.get(id)! <= 1000) answered++;
      pending.delete(id);
    }
  });
  let sent = 0;
  const local = socket.address();
  const timer = setInterval(() => {
    const id = `probe-${sent}@${PROBER}`;
    pending.set(id, performance.now());
    socket.send(Buffer.from([`OPTIONS sip:probe@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${PROBER}:${local.port};branch=z9hG4bK-p${sent}`,
      'Max-Forwards: 70', `From: <sip:probe@${PROBER}>;tag=p1`, 'To: <sip:probe@127.0.0.1>', `Call-ID: ${id}`, 'CSeq: 1 OPTIONS',
      'User-Agent: conflux-prober', 'Content-Length: 0', '', ''].join('\r\n')), port, '127.0.0.1');
    sent++;
  }, 1000 / PROBES_PER_SECOND);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  socket.close();
  return { sent, answered };
}

/** Runs the flooder process: `sources` each sending `ratePerSource` OPTIONS/s. */
function flood(port: number, sources: string[], ratePerSource: number, seconds: number): Promise<{ sent: number; answered: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sip-flood/flooder.ts', String(port), sources.join(','),
      String(ratePerSource), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('exit', () => {
      clearTimeout(kill);
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; answered: number });
      } catch {
        reject(new Error(`flooder printed ${out}`));
      }
    });
  });
}

async function step(rateLimit: RateLimit | undefined, sources: string[], total: number): Promise<StepResult> {
  const server = await SipServer.start({ host: '127.0.0.1', udpPort: 0, tcpPort: null, domain: '127.0.0.1', users: [],
    ...(rateLimit ? { rateLimit } : {}) }, pino({ level: 'silent' }));
  try {
    const port = server.ports.udp!;
    const drops = kernelDrops();
    const cpu = process.cpuUsage();
    const [flooded, probed] = await Promise.all([flood(port, sources, total / sources.length, SECONDS), prober(port, SECONDS)]);
    const used = process.cpuUsage(cpu);
    return { offered: flooded.sent / SECONDS, answered: flooded.answered / SECONDS, proberSent: probed.sent, proberAnswered: probed.answered,
      cpu: ((used.user + used.system) / 1e6 / (SECONDS + 1)) * 100, kernelDrops: kernelDrops() - drops };
  } finally {
    await server.close();
  }
}

const fmt = (r: StepResult) => `offered ${r.offered.toFixed(0).padStart(6)}/s | answered ${r.answered.toFixed(0).padStart(6)}/s | `
  + `prober ${((r.proberAnswered / r.proberSent) * 100).toFixed(1).padStart(5)} % | server CPU ${r.cpu.toFixed(0).padStart(3)} % | kernel drops ${r.kernelDrops}`;

async function main(): Promise<void> {
  const defaults = ConfigSchema.parse({}).sip.rateLimit;
  console.log(`SIP flood: ${SECONDS} s per step, OPTIONS over UDP, prober ${PROBES_PER_SECOND}/s from ${PROBER}`);
  console.log('capacity (no limiter, one source):');
  let capacity = Number(process.env.SIP_FLOOD_CAPACITY ?? 0);
  for (const offered of capacity > 0 ? [] : [2000, 4000, 8000, 16_000]) {
    const r = await step(undefined, ['127.0.0.2'], offered);
    console.log(`  ${fmt(r)}`);
    capacity = Math.max(capacity, r.answered);
  }
  console.log(`one core answers about ${capacity.toFixed(0)} OPTIONS/s`);
  if (!defaults) {
    console.log('sip.rateLimit is off by default: nothing more to measure');
    return;
  }
  console.log(`default limits: ${defaults.perSecond}/s per source (burst ${defaults.burst}), ${defaults.totalPerSecond ?? 'no'} in total`);
  const forty = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 2}`);
  let worstOne = 100;
  let worstForty = 100;
  for (const multiple of [0.5, 1, 2, 4]) {
    const total = Math.round(capacity * multiple);
    const one = await step(defaults, ['127.0.0.2'], total);
    const many = await step(defaults, forty, total);
    console.log(`  ${multiple}× capacity, one source:   ${fmt(one)}`);
    console.log(`  ${multiple}× capacity, forty sources: ${fmt(many)}`);
    worstOne = Math.min(worstOne, (one.proberAnswered / one.proberSent) * 100);
    worstForty = Math.min(worstForty, (many.proberAnswered / many.proberSent) * 100);
  }
  console.log(`prober answered at worst: ${worstOne.toFixed(1)} % with one source flooding (goal ≥ 99 %), `
    + `${worstForty.toFixed(1)} % with forty (goal ≥ 95 %)`);
}

await main();
