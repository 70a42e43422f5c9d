/**
 * Gateway benchmark: N concurrent calls from JsSIP in headless Chromium (WebSocket, ICE, DTLS-SRTP) to N
 * plain-RTP phones registered over UDP, through a conflux server running as its own process. Prints call
 * setup times and the server's CPU (its Node process with every thread, and its mediasoup workers) per
 * call over a steady window, idle CPU subtracted. Each phone sends a PCMU tone and counts what it hears.
 *
 *   unshare -n bash -c 'ip link set lo up && GATEWAY_CALLS=10 npm run bench:gateway'
 */
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RegistrationClient } from '../../sip-connector/sip/RegistrationClient.js';
import { SipServer } from '../../sip-connector/SipServer.js';
import { launchBrowser } from '../../test/support/browser.js';
import { SipWebPhone } from '../../test/support/SipWebPhone.js';
import { writeToneWav } from '../../test/support/toneWav.js';
import { ToneRtpSender } from '../../test/unit/sip-connector/media/support/rtpStream.js';

const CALLS = Number(process.env.GATEWAY_CALLS ?? 10);
const WINDOW_SECONDS = Number(process.env.GATEWAY_WINDOW_SECONDS ?? 10);
const HOST = '127.0.0.1';
const PORTS = { http: 18480, sip: 15460, ws: 15466, phones: 15470 };
const CLOCK_TICKS = 100;

const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
const users = Array.from({ length: CALLS }, (_, i) => [
  { username: `web${i}`, password: `web-secret-${i}` }, { username: `phone${i}`, password: `phone-secret-${i}` },
]).flat();

/** CPU seconds of each thread of a process, by thread id, with its name. */
function threadSeconds(pid: number): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.split(') ')[1]!.split(' ');
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** utime + stime of a process and of its child processes (mediasoup workers), in seconds. */
function cpuSeconds(pid: number): { server: number; workers: number } {
  const ticks = (p: number) => {
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const workers = children.filter((child) => readFileSync(`/proc/${child}/comm`, 'utf8').startsWith('mediasoup'));
  return { server: ticks(pid) / CLOCK_TICKS, workers: workers.reduce((sum, w) => sum + ticks(w), 0) / CLOCK_TICKS };
}

async function sampleCpu(pid: number, seconds: number): Promise<{ server: number; workers: number }> {
  const before = cpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = cpuSeconds(pid);
  return { server: (after.server - before.server) / seconds * 100, workers: (after.workers - before.workers) / seconds * 100 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const worker = execFileSync('bash', ['scripts/build-mediasoup-worker.sh', '--path'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    http: { host: HOST, port: PORTS.http, serveClient: false },
    rtc: { listenIp: HOST, announcedAddress: HOST },
    mediasoup: { numWorkers: 1 },
    auth: { apiKey: 'bench-api-key-0123456789', jwtSecret: 'bench-jwt-secret-0123456789-0123456789' },
    sip: { host: HOST, udpPort: PORTS.sip, tcpPort: null, wsPort: PORTS.ws, domain: HOST, users, rateLimit: null, maxCalls: CALLS * 4 },
    log: { level: process.env.GATEWAY_LOG_LEVEL ?? 'warn' },
    dataDir: join(dir, 'data'),
  }));
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, CONFLUX_CONFIG: join(dir, 'config.json'), MEDIASOUP_WORKER_BIN: worker },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const phones = await SipServer.start({ host: HOST, udpPort: PORTS.phones, tcpPort: null, domain: HOST, users: [] },
    pino({ level: 'silent' }));
  const sockets: dgram.Socket[] = [];
  const received: number[] = [];
  const senders: Array<{ socket: dgram.Socket; tone: ToneRtpSender; to: { port: number } }> = [];
  const browser = await launchBrowser({ fakeAudioFile: join(dir, 'tone.wav') }).catch((error: unknown) => { throw error; });
  const pages: SipWebPhone[] = [];
  const clock = setInterval(() => {
    for (const s of senders) s.socket.send(s.tone.next(), s.to.port, HOST);
  }, 20);
  try {
    const pid = await waitForServer(server.pid!);
    // Phones: one UA answering every call with a socket of its own that plays a tone and counts what it hears.
    phones.userAgent.onInvite((call) => {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, HOST, () => {
        const index = received.push(0) - 1;
        socket.on('message', () => { received[index]! += 1; });
        sockets.push(socket);
        const remotePort = Number(/^m=audio (\d+)/m.exec(call.offer ?? '')?.[1]);
        senders.push({ socket, tone: new ToneRtpSender('PCMU', 0, 440), to: { port: remotePort } });
        call.answer(['v=0', `o=phone 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0',
          `m=audio ${socket.address().port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n'));
      });
    });
    const registrations = Array.from({ length: CALLS }, (_, i) => new RegistrationClient(phones.userAgent, {
      registrar: `sip:${HOST}:${PORTS.sip}`, aor: `sip:phone${i}@${HOST}`, credentials: { username: `phone${i}`, password: `phone-secret-${i}` },
    }));
    await Promise.all(registrations.map((r) => new Promise<void>((resolve) => { r.once('registered', () => resolve()); r.start(); })));
    // Registrations start the gateway's relay thread: idle is measured once it has settled.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idle = await sampleCpu(pid, 5);
    for (let i = 0; i < CALLS; i++) {
      const page = await SipWebPhone.launch(join(dir, 'tone.wav'), 'jssip', browser);
      pages.push(page);
      const state = await page.register(`ws://${HOST}:${PORTS.ws}`, `sip:web${i}@${HOST}`, `web-secret-${i}`);
      if (state !== 'registered') throw new Error(`web${i}: ${state}`);
    }
    const setups: number[] = [];
    const answers: number[] = [];
    await Promise.all(pages.map(async (page, i) => {
      const outcome = await page.call(`sip:phone${i}@${HOST}`);
      if (outcome !== 'confirmed') throw new Error(`call ${i}: ${outcome}`);
      const t = await page.timings();
      setups.push(t.confirmed! - t.call!);
      answers.push(t.accepted! - t.sending!);
    }));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const heardBefore = [...received];
    const threadsBefore = threadSeconds(pid);
    const busy = await sampleCpu(pid, WINDOW_SECONDS);
    const threadsAfter = threadSeconds(pid);
    const phonesHearing = received.filter((count, i) => count - (heardBefore[i] ?? 0) > WINDOW_SECONDS * 40).length;
    const browsersHearing = (await Promise.all(pages.map((page) => page.stats()))).filter((stats) => (stats['inbound-rtp'] ?? 0) > 100).length;
    setups.sort((a, b) => a - b);
    answers.sort((a, b) => a - b);
    const threads = [...threadsAfter].map(([tid, { name, seconds }]) => ({ name, tid,
      percent: ((seconds - (threadsBefore.get(tid)?.seconds ?? 0)) / WINDOW_SECONDS) * 100 }))
      .filter((thread) => thread.percent >= 0.5).sort((a, b) => b.percent - a.percent);
    const perCall = (busy.server + busy.workers - idle.server - idle.workers) / CALLS;
    console.log(`gateway calls: ${CALLS} (JsSIP/Chromium ⇄ PCMU phones, relayed untranscoded both ways)`);
    console.log(`media: ${phonesHearing}/${CALLS} phones and ${browsersHearing}/${CALLS} browsers receiving`);
    console.log(`call setup as the browser sees it (call() to ACK, ICE gathering included): p50 ${percentile(setups, 50).toFixed(0)} ms, `
      + `p95 ${percentile(setups, 95).toFixed(0)} ms`);
    console.log(`INVITE sent to 200 OK received (digest challenge, both legs, the phone answering at once): p50 `
      + `${percentile(answers, 50).toFixed(0)} ms, p95 ${percentile(answers, 95).toFixed(0)} ms (goal p95 ≤ 300 ms)`);
    console.log(`server threads busy with calls: ${threads.map((t) => `${String(t.tid) === String(pid) ? 'main' : `${t.name}/${t.tid}`} `
      + `${t.percent.toFixed(1)} %`).join(', ')}`);
    console.log(`server CPU idle: node ${idle.server.toFixed(1)} %, mediasoup ${idle.workers.toFixed(1)} % of a core`);
    console.log(`server CPU with calls: node ${busy.server.toFixed(1)} %, mediasoup ${busy.workers.toFixed(1)} % of a core`);
    console.log(`per call: ${perCall.toFixed(2)} % of a core (goal ≤ 0.5 %)`);
    for (const page of pages) await page.hangup();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await Promise.all(registrations.map((r) => r.stop()));
  } finally {
    clearInterval(clock);
    for (const page of pages) await page.close();
    await browser.close().catch(() => undefined);
    for (const socket of sockets) socket.close();
    for (const s of senders) s.tone.close();
    await phones.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for /healthz and returns the PID of the server process. */
async function waitForServer(pid: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`http://${HOST}:${PORTS.http}/healthz`);
      if (response.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('server did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return pid;
}

writeToneWav(join(dir, 'tone.wav'), { frequencyHz: 1000, seconds: 60 });
main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
