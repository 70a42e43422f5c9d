/**
 * SFU forwarding benchmark: how much of a core one mediasoup worker spends per consumer.
 *
 *   npx tsx bench/sfu-forwarding/run.ts [--consumers 100,200,400,800] [--seconds 5]
 *                                      [--audio 4] [--video-pps 300] [--srtp]
 *
 * One router on one worker. Each synthetic producer has its own comedia PlainTransport fed by a
 * Node UDP socket; each consumer has its own PlainTransport whose RTP goes to its own Node UDP sink.
 * Consumers are assigned to producers round-robin, so the packet mix per consumer stays the same
 * from step to step. Everything stays on 127.0.0.1. See README.md for how to read the figures.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { types } from 'mediasoup';
import { ROOM_MEDIA_CODECS } from '../../server/rooms/mediaCodecs.js';
import { resolveMediasoupWorkerBin } from '../../server/workers/mediasoupWorkerBin.js';
import {
  RtpStreamWriter, audioSpec, packetsPerSecond, produceParameters, videoSpec, type StreamSpec,
} from './syntheticRtp.js';

const LOCALHOST = '127.0.0.1';
const MAX_CONSUMERS = 2000;
const MAX_RUN_SECONDS = 170;
// Long enough for every new video consumer to see a keyframe (one per second) before counting.
const WARMUP_MS = 1500;
// Sending pauses around each measured window until the worker and the sinks stop counting, so
// packets still queued at the window's edges are neither lost nor counted twice. A worker that fell
// behind shows up as a long drain rather than as loss, since its socket buffer holds the backlog.
const DRAIN_POLL_MS = 100;
const DRAIN_MAX_MS = 5000;
const SEND_TICK_MS = 5;
// After an event-loop stall the sender resumes instead of bursting a backlog into the worker.
const MAX_CATCH_UP_FRAMES = 4;
const CREATE_BATCH = 50;
// Kernel defaults (~200 KB) overflow when the sender's catch-up burst meets a worker busy fanning out
// the previous frame; a real SFU host raises them too. Linux caps this at net.core.rmem_max.
const SOCKET_BUFFER_BYTES = 1 << 20;

interface Options {
  steps: number[];
  seconds: number;
  audioStreams: number;
  videoPps: number;
  srtp: boolean;
}

/**
 * The router's capabilities minus sender-side bandwidth estimation. The sinks never send feedback,
 * so with transport-cc or REMB negotiated the worker would run BWE blind: probe packets pad the
 * counts and the estimate throttles video.
 */
function plainReceiverCapabilities(router: types.Router): types.RtpCapabilities {
  const bweFeedback = new Set(['transport-cc', 'goog-remb']);
  const caps = router.rtpCapabilities;
  return {
    codecs: (caps.codecs ?? []).map((codec) => ({
      ...codec, rtcpFeedback: (codec.rtcpFeedback ?? []).filter((fb) => !bweFeedback.has(fb.type)),
    })),
    headerExtensions: (caps.headerExtensions ?? []).filter((ext) => !/transport-wide-cc|abs-send-time/.test(ext.uri)),
  };
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      consumers: { type: 'string', default: '100,200,400,800' },
      seconds: { type: 'string', default: '5' },
      audio: { type: 'string', default: '4' },
      'video-pps': { type: 'string', default: '300' },
      srtp: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: run.ts [--consumers N[,N...]] [--seconds S] [--audio A] [--video-pps P] [--srtp]');
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be an integer in ${min}..${max} (got ${raw})`);
    }
    return value;
  };
  const steps = values.consumers.split(',').map((raw) => int('consumers', raw.trim(), 1, MAX_CONSUMERS));
  const options: Options = {
    steps: [...new Set(steps)].sort((a, b) => a - b),
    seconds: int('seconds', values.seconds, 1, 30),
    audioStreams: int('audio', values.audio, 0, 16),
    videoPps: int('video-pps', values['video-pps'], 0, 3000),
    srtp: values.srtp,
  };
  if (options.audioStreams === 0 && options.videoPps === 0) throw new Error('need at least one stream');
  // Worst case per step: consumer set-up, warm-up, the window and two drains that hit their limit.
  const estimate = options.steps.length * (options.seconds + (WARMUP_MS + 2 * DRAIN_MAX_MS) / 1000 + 3) + 5;
  if (estimate > MAX_RUN_SECONDS) {
    throw new Error(`about ${estimate} s of steps; keep the run under ${MAX_RUN_SECONDS} s (fewer steps or --seconds)`);
  }
  return options;
}

/** A producer plus the socket that feeds it, paced against the wall clock. */
class SyntheticSender {
  readonly writer: RtpStreamWriter;
  readonly socket = dgram.createSocket('udp4');
  sent = 0;
  sendErrors = 0;
  consumers = 0;
  #frames = 0;
  #startedAt = 0;
  #port = 0;
  #paused = false;

  constructor(spec: StreamSpec, readonly producer: types.Producer, port: number) {
    this.writer = new RtpStreamWriter(spec);
    this.#port = port;
  }

  /** (Re)starts pacing from `now`; RTP sequence numbers and timestamps carry on where they were. */
  start(now: number): void {
    this.#startedAt = now;
    this.#frames = 0;
    this.#paused = false;
  }

  pause(): void {
    this.#paused = true;
  }

  tick(now: number): void {
    if (this.#paused) return;
    const due = Math.floor(((now - this.#startedAt) / 1000) * this.writer.spec.frameRate);
    if (due - this.#frames > MAX_CATCH_UP_FRAMES) this.#frames = due - MAX_CATCH_UP_FRAMES;
    for (; this.#frames < due; this.#frames++) {
      for (const packet of this.writer.nextFrame()) {
        this.sent++;
        this.socket.send(packet, this.#port, LOCALHOST, (error) => { if (error) this.sendErrors++; });
      }
    }
  }
}

/** The receiving end of one consumer transport; counts RTP and ignores the worker's RTCP. */
class Sink {
  readonly socket = dgram.createSocket('udp4');
  received = 0;

  constructor(onPacket: () => void) {
    this.socket.on('message', (packet) => {
      // RFC 5761: a second byte of 192..223 is an RTCP packet type, not marker + payload type.
      if (packet.length >= 12 && (packet[1]! < 192 || packet[1]! > 223)) {
        this.received++;
        onPacket();
      }
    });
  }
}

interface CpuSnapshot {
  at: number;
  workerCpuMs: number;
  nodeCpuUs: number;
  host: HostCpu | null;
}

interface PacketSnapshot {
  sent: number[];
  /** Per producer, as counted by the worker. */
  ingested: number[];
  received: number;
  udpRcvbufErrors: number | null;
}

interface HostCpu {
  busy: number;
  total: number;
}

interface StepResult {
  consumers: number;
  inPps: number;
  fwdPps: number;
  expectedPps: number;
  lossPct: number;
  ingressLossPct: number;
  workerCpuPct: number;
  nodeCpuPct: number;
  hostCpuPct: number | null;
  workerRssMb: number | null;
  udpDrops: number | null;
  drainMs: number;
}

/** Kernel UDP receive-buffer overflows (this network namespace), to tell socket drops from SFU drops. */
function readUdpRcvbufErrors(): number | null {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    const index = names.indexOf('RcvbufErrors');
    return index < 0 ? null : Number(values[index]);
  } catch {
    return null;
  }
}

/** Jiffies of all cores from /proc/stat; softirq time of loopback delivery shows up only here. */
function readHostCpu(): HostCpu | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    // idle + iowait
    return { busy: total - fields[3]! - (fields[4] ?? 0), total };
  } catch {
    return null;
  }
}

/** Current (not peak) resident set size of a process, in MB. */
function readRssMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const fmt = (value: number, digits = 0): string => value.toFixed(digits);

function printTable(rows: StepResult[]): void {
  const cores = os.availableParallelism();
  const header = ['consumers', 'pps in', 'pps fwd', 'pps expected', 'loss %', 'ingress loss %', 'worker CPU %',
    'CPU %/100 cons', 'worker RSS MB', 'node CPU %', `host CPU %/${cores * 100}`, 'udp rcvbuf drops', 'drain ms'];
  const table = rows.map((r) => [
    String(r.consumers), fmt(r.inPps), fmt(r.fwdPps), fmt(r.expectedPps), fmt(r.lossPct, 2), fmt(r.ingressLossPct, 2),
    fmt(r.workerCpuPct, 1), fmt((r.workerCpuPct / r.consumers) * 100, 2),
    r.workerRssMb === null ? 'n/a' : fmt(r.workerRssMb, 1), fmt(r.nodeCpuPct, 1),
    r.hostCpuPct === null ? 'n/a' : fmt(r.hostCpuPct, 1), r.udpDrops === null ? 'n/a' : String(r.udpDrops),
    fmt(r.drainMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  console.log(line(header));
  for (const row of table) console.log(line(row));
}

async function main(): Promise<void> {
  const options = parseOptions();
  resolveMediasoupWorkerBin();
  // mediasoup reads MEDIASOUP_WORKER_BIN when the module loads, so it is imported only now.
  const mediasoup = await import('mediasoup');

  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  let workerDied: Error | null = null;
  worker.on('died', (error) => { workerDied = error; });
  const router = await worker.createRouter({ mediaCodecs: ROOM_MEDIA_CODECS });

  const specs: StreamSpec[] = Array.from({ length: options.audioStreams }, (_, i) => audioSpec(i));
  if (options.videoPps > 0) specs.push(videoSpec(options.videoPps));

  const senders: SyntheticSender[] = [];
  const sinks: Sink[] = [];
  let totalReceived = 0;
  const countPacket = () => { totalReceived++; };
  let ticker: NodeJS.Timeout | undefined;

  const cleanUp = async () => {
    if (ticker) clearInterval(ticker);
    worker.close();
    await Promise.all([...senders.map((s) => s.socket), ...sinks.map((s) => s.socket)]
      .map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  };

  try {
    for (const spec of specs) {
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: LOCALHOST, recvBufferSize: SOCKET_BUFFER_BYTES }, rtcpMux: true, comedia: true,
      });
      const producer = await transport.produce({ kind: spec.kind, rtpParameters: produceParameters(spec) });
      const sender = new SyntheticSender(spec, producer, transport.tuple.localPort);
      await new Promise<void>((resolve) => sender.socket.bind(0, LOCALHOST, resolve));
      senders.push(sender);
    }

    const inPps = senders.reduce((sum, s) => sum + packetsPerSecond(s.writer.spec), 0);
    console.log(`mediasoup ${mediasoup.version}, worker pid ${worker.pid}, ${os.availableParallelism()} cores `
      + `(${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average ${fmt(os.loadavg()[0]!, 2)}`);
    console.log(`producers: ${specs.map((s) => `${s.label} ${packetsPerSecond(s)} pps x ${s.payloadBytes} B`).join(', ')}`
      + ` = ${inPps} pps in; consumers round-robin over producers, one PlainTransport each`
      + `${options.srtp ? ' (SRTP AES_CM_128_HMAC_SHA1_80)' : ' (plain RTP)'}`);
    console.log(`steps: ${options.steps.join(', ')} consumers; ${WARMUP_MS} ms warm-up + ${options.seconds} s measured each\n`);

    const startedAt = performance.now();
    for (const sender of senders) sender.start(startedAt);
    ticker = setInterval(() => {
      const now = performance.now();
      for (const sender of senders) sender.tick(now);
    }, SEND_TICK_MS);

    const consumerCapabilities = plainReceiverCapabilities(router);
    const addConsumer = async (index: number) => {
      const sender = senders[index % senders.length]!;
      const sink = new Sink(countPacket);
      await new Promise<void>((resolve) => sink.socket.bind(0, LOCALHOST, resolve));
      sink.socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      sinks.push(sink);
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: LOCALHOST }, rtcpMux: true, comedia: false,
        enableSrtp: options.srtp,
      });
      await transport.connect({
        ip: LOCALHOST, port: sink.socket.address().port,
        // The sinks never send, so this key only has to be valid, not shared.
        ...(options.srtp
          ? { srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') } }
          : {}),
      });
      await transport.consume({ producerId: sender.producer.id, rtpCapabilities: consumerCapabilities });
      sender.consumers++;
    };

    const cpuSnapshot = async (): Promise<CpuSnapshot> => {
      const usage = await worker.getResourceUsage();
      const cpu = process.cpuUsage();
      return {
        at: performance.now(), workerCpuMs: usage.ru_utime + usage.ru_stime, nodeCpuUs: cpu.user + cpu.system,
        host: readHostCpu(),
      };
    };
    const packetSnapshot = async (): Promise<PacketSnapshot> => {
      const ingested = await Promise.all(senders.map(async (s) => (await s.producer.getStats())[0]?.packetCount ?? 0));
      return {
        sent: senders.map((s) => s.sent), ingested, received: totalReceived, udpRcvbufErrors: readUdpRcvbufErrors(),
      };
    };
    /** Stops sending and waits for the counters to settle; resolves with the settled snapshot and how long it took. */
    const pauseAndDrain = async (): Promise<{ snapshot: PacketSnapshot; ms: number }> => {
      for (const sender of senders) sender.pause();
      const started = performance.now();
      let previous = await packetSnapshot();
      for (;;) {
        await sleep(DRAIN_POLL_MS);
        const current = await packetSnapshot();
        const settled = current.received === previous.received
          && current.ingested.every((count, i) => count === previous.ingested[i]);
        previous = current;
        if (settled || performance.now() - started > DRAIN_MAX_MS) break;
      }
      return { snapshot: previous, ms: performance.now() - started - DRAIN_POLL_MS };
    };

    const results: StepResult[] = [];
    let created = 0;
    for (const target of options.steps) {
      const setupStart = performance.now();
      while (created < target) {
        const batch = Math.min(CREATE_BATCH, target - created);
        await Promise.all(Array.from({ length: batch }, (_, i) => addConsumer(created + i)));
        created += batch;
      }
      const setupMs = performance.now() - setupStart;
      await sleep(WARMUP_MS);
      const { snapshot: before } = await pauseAndDrain();
      const cpuBefore = await cpuSnapshot();
      for (const sender of senders) sender.start(cpuBefore.at);
      await sleep(options.seconds * 1000);
      const cpuAfter = await cpuSnapshot();
      const { snapshot: after, ms: drainMs } = await pauseAndDrain();
      for (const sender of senders) sender.start(performance.now());
      if (workerDied) throw new Error(`mediasoup worker died: ${(workerDied as Error).message}`);

      const wallS = (cpuAfter.at - cpuBefore.at) / 1000;
      const sentDeltas = after.sent.map((count, i) => count - before.sent[i]!);
      const expected = senders.reduce((sum, s, i) => sum + sentDeltas[i]! * s.consumers, 0);
      const received = after.received - before.received;
      const sentTotal = sentDeltas.reduce((a, b) => a + b, 0);
      const ingestedTotal = after.ingested.reduce((sum, count, i) => sum + count - before.ingested[i]!, 0);
      const hostBefore = cpuBefore.host;
      const hostAfter = cpuAfter.host;
      const result: StepResult = {
        consumers: target,
        inPps: sentTotal / wallS,
        fwdPps: received / wallS,
        expectedPps: expected / wallS,
        lossPct: expected > 0 ? (1 - received / expected) * 100 : 0,
        ingressLossPct: sentTotal > 0 ? (1 - ingestedTotal / sentTotal) * 100 : 0,
        workerCpuPct: ((cpuAfter.workerCpuMs - cpuBefore.workerCpuMs) / (wallS * 1000)) * 100,
        nodeCpuPct: ((cpuAfter.nodeCpuUs - cpuBefore.nodeCpuUs) / 1000 / (wallS * 1000)) * 100,
        hostCpuPct: hostBefore && hostAfter && hostAfter.total > hostBefore.total
          ? ((hostAfter.busy - hostBefore.busy) / (hostAfter.total - hostBefore.total)) * os.availableParallelism() * 100
          : null,
        workerRssMb: readRssMb(worker.pid),
        udpDrops: after.udpRcvbufErrors === null || before.udpRcvbufErrors === null
          ? null : after.udpRcvbufErrors - before.udpRcvbufErrors,
        drainMs,
      };
      results.push(result);
      console.log(`step ${target}: set up in ${fmt(setupMs)} ms; worker ${fmt(result.workerCpuPct, 1)} % CPU, `
        + `node ${fmt(result.nodeCpuPct, 1)} % CPU, ${fmt(result.fwdPps)} pps forwarded, loss ${fmt(result.lossPct, 2)} %`
        + ` (ingress ${fmt(result.ingressLossPct, 2)} %)`);
    }

    const sendErrors = senders.reduce((sum, s) => sum + s.sendErrors, 0);
    console.log('');
    printTable(results);
    if (sendErrors > 0) console.log(`sender errors: ${sendErrors}`);

    // A step that lost packets or left a backlog measured a starved worker, not its cost per consumer.
    const clean = results.filter((r) => r.lossPct < 1 && r.drainMs < 500);
    const basis = clean[clean.length - 1] ?? results[results.length - 1]!;
    const perCore = basis.workerCpuPct > 0 ? basis.consumers / (basis.workerCpuPct / 100) : Infinity;
    console.log(`\nsummary: ${basis.consumers} consumers (~${fmt(basis.expectedPps / basis.consumers)} pps each`
      + `${clean.includes(basis) ? '' : ', SATURATED'}) cost the worker ${fmt(basis.workerCpuPct, 1)} % of a core `
      + `(Node sender+sinks ${fmt(basis.nodeCpuPct, 1)} %) -> ~${fmt(perCore)} consumers per worker core at this mix, `
      + `${perCore >= 500 ? 'at or above' : 'below'} mediasoup's rule of thumb of ~500 consumers per core.`);
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  console.error('sfu-forwarding bench failed:', error);
  process.exitCode = 1;
});
