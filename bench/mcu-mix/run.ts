/**
 * MCU audio mix benchmark: how many G.711 phone legs one core can mix in real time.
 *
 *   npx tsx bench/mcu-mix/run.ts [--legs 50,100,200,400,800] [--speakers 3] [--seconds 3] [--mode inproc|thread]
 *
 * Each step runs N PCMU phones (each both a source and a mix-minus leg, like a phone in a room) plus M Opus
 * speakers (browsers talking; sources only) through the real path: RTP parse → jitter buffer → decode
 * (libopus / G.711) → resample → mix-minus → encode → RTP packetize → UDP send to a discard port.
 *
 * inproc: the MixEngine runs on this thread on a 20 ms absolute schedule; CPU is measured around the mix
 *   work only (packet delivery into the engine is counted, packet generation is not).
 * thread: the real MixerThread (worker + sockets) is fed over loopback UDP; CPU is the worker's event-loop
 *   utilization × 20 ms.
 * legs/core = legs × 20 ms ÷ CPU ms per tick, i.e. what a fully used core would carry at that load.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { G711Codec } from '../../sip-connector/media/G711Codec.js';
import { MixEngine } from '../../sip-connector/media/MixEngine.js';
import { MixerThread } from '../../sip-connector/media/MixerThread.js';
import { OpusCodec } from '../../sip-connector/media/OpusCodec.js';
import { RtpPacket } from '../../sip-connector/media/RtpPacket.js';

const HOST = '127.0.0.1';
const DISCARD_PORT = 9;
const TICK_MS = 20;
const MAX_LEGS = 2000;
const MAX_TOTAL_SECONDS = 110;
// A tick more than half a packet time late counts as a late frame: a receiver's jitter buffer absorbs less.
const LATE_MS = 10;

interface Options { legs: number[]; speakers: number; seconds: number; mode: 'inproc' | 'thread' }

function options(): Options {
  const { values } = parseArgs({ options: {
    legs: { type: 'string', default: '50,100,200,400,800' },
    speakers: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'inproc' },
  } });
  const legs = values.legs.split(',').map(Number).filter((n) => n > 0 && n <= MAX_LEGS);
  const seconds = Math.min(10, Math.max(1, Number(values.seconds)));
  const mode = values.mode === 'thread' ? 'thread' : 'inproc';
  return { legs, speakers: Math.max(0, Math.min(20, Number(values.speakers))), seconds, mode };
}

/** A source's packets: payloads are encoded once and replayed with advancing headers. */
class Feed {
  private frame = 0;
  private readonly ssrc = (Math.random() * 2 ** 32) >>> 0;

  constructor(private readonly payloadType: number, private readonly samples: number,
    private readonly payloads: Uint8Array[]) {}

  next(): Buffer {
    const f = this.frame++;
    return RtpPacket.from({ payloadType: this.payloadType, sequenceNumber: f & 0xffff,
      timestamp: (f * this.samples) >>> 0, ssrc: this.ssrc, marker: f === 0,
      payload: this.payloads[f % this.payloads.length] }).serialize();
  }
}

/** One second of a voice-like signal (two drifting tones with a syllable envelope) per codec. */
function payloadLoops(): { pcmu: Uint8Array[]; opus: Uint8Array[] } {
  const g711 = new G711Codec('PCMU');
  const opus = new OpusCodec({ bitrate: 32000 });
  const pcmu: Uint8Array[] = [];
  const opusPackets: Uint8Array[] = [];
  const buf = new Uint8Array(4000);
  for (let f = 0; f < 50; f++) {
    for (const [rate, list] of [[8000, pcmu], [48000, opusPackets]] as const) {
      const n = rate / 50;
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        const t = (f * n + i) / rate;
        const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
        pcm[i] = Math.round(4000 * env * (Math.sin(2 * Math.PI * (180 + 40 * Math.sin(t)) * t)
          + 0.5 * Math.sin(2 * Math.PI * 1200 * t)));
      }
      const bytes = rate === 8000 ? g711.encode(pcm, n, buf) : opus.encode(pcm, n, buf);
      list.push(buf.slice(0, bytes));
    }
  }
  opus.close();
  return { pcmu, opus: opusPackets };
}

interface StepResult { legs: number; cpuMsPerTick: number; p99Ms: number; lateTicks: number; realTime: boolean }

async function stepInProcess(legs: number, speakers: number, seconds: number,
  loops: ReturnType<typeof payloadLoops>): Promise<StepResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  socket.on('error', () => {});
  const engine = new MixEngine((_, datagram) => socket.send(datagram, DISCARD_PORT, HOST));
  const feeds: [string, Feed][] = [];
  for (let i = 0; i < legs; i++) {
    const id = `phone${i}`;
    engine.addSource({ sourceId: id, codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    engine.addLeg({ legId: id, codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: [id] });
    feeds.push([id, new Feed(0, 160, loops.pcmu)]);
  }
  for (let i = 0; i < speakers; i++) {
    engine.addSource({ sourceId: `speaker${i}`, codec: 'opus', payloadType: 111, clockRate: 48000 });
    feeds.push([`speaker${i}`, new Feed(111, 960, loops.opus)]);
  }
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const warmup = 10;
  const busy: number[] = [];
  let lateTicks = 0;
  const start = performance.now();
  for (let k = 0; k < ticks + warmup; k++) {
    const due = start + k * TICK_MS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait - 1);
    while (performance.now() < due) { /* spin the last millisecond: timer granularity is ~1 ms */ }
    if (k >= warmup && performance.now() - due > LATE_MS) lateTicks++;
    const datagrams = feeds.map(([, feed]) => feed.next());
    const t0 = performance.now();
    for (let i = 0; i < feeds.length; i++) engine.receive(feeds[i][0], datagrams[i], t0);
    engine.tick(t0);
    const t1 = performance.now();
    if (k >= warmup) busy.push(t1 - t0);
  }
  engine.close();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  busy.sort((a, b) => a - b);
  const mean = busy.reduce((a, b) => a + b, 0) / busy.length;
  const p99 = busy[Math.floor(busy.length * 0.99)];
  return { legs, cpuMsPerTick: mean, p99Ms: p99, lateTicks, realTime: lateTicks === 0 && p99 < TICK_MS };
}

async function stepThread(legs: number, speakers: number, seconds: number,
  loops: ReturnType<typeof payloadLoops>): Promise<StepResult> {
  const mixer = await MixerThread.start({ lateThresholdMs: LATE_MS });
  const tx = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => tx.bind(0, HOST, resolve));
  const feeds: [number, Feed][] = [];
  for (let i = 0; i < legs; i++) {
    const id = `phone${i}`;
    const port = await mixer.addSource({ sourceId: id, codec: 'PCMU', payloadType: 0, clockRate: 8000 });
    await mixer.addLeg({ legId: id, codec: 'PCMU', payloadType: 0, clockRate: 8000, ownSourceIds: [id],
      destination: { ip: HOST, port: DISCARD_PORT } });
    feeds.push([port, new Feed(0, 160, loops.pcmu)]);
  }
  for (let i = 0; i < speakers; i++) {
    const port = await mixer.addSource({ sourceId: `speaker${i}`, codec: 'opus', payloadType: 111, clockRate: 48000 });
    feeds.push([port, new Feed(111, 960, loops.opus)]);
  }
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const start = performance.now();
  let before = await mixer.stats();
  for (let k = 0; k < ticks + 10; k++) {
    if (k === 10) before = await mixer.stats();
    const wait = start + k * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    for (const [port, feed] of feeds) tx.send(feed.next(), port, HOST);
  }
  const after = await mixer.stats();
  await mixer.close();
  await new Promise<void>((resolve) => tx.close(() => resolve()));
  const tickCount = after.ticks - before.ticks;
  // Utilization is cumulative since start; recover the window's share from the two snapshots' busy time.
  const cpuMsPerTick = (after.utilization * after.ticks - before.utilization * before.ticks) * TICK_MS / tickCount;
  const lateTicks = after.lateTicks - before.lateTicks + after.skippedTicks - before.skippedTicks;
  return { legs, cpuMsPerTick, p99Ms: after.maxTickLatenessMs, lateTicks, realTime: lateTicks === 0 };
}

async function main(): Promise<void> {
  const opts = options();
  const loops = payloadLoops();
  const began = performance.now();
  console.log(`mcu-mix: ${opts.mode}, PCMU phone legs (source + leg each) + ${opts.speakers} Opus speakers, `
    + `${opts.seconds} s per step`);
  const p99Label = opts.mode === 'thread' ? 'max tick lateness ms' : 'p99 tick ms';
  console.log(['legs', 'CPU ms/tick', 'µs/leg', p99Label, 'late ticks', 'real time', 'legs/core'].join('\t'));
  const results: StepResult[] = [];
  for (const legs of opts.legs) {
    if ((performance.now() - began) / 1000 + opts.seconds + 2 > MAX_TOTAL_SECONDS) {
      console.log('stopping: time budget reached');
      break;
    }
    const run = opts.mode === 'thread' ? stepThread : stepInProcess;
    const r = await run(legs, opts.speakers, opts.seconds, loops);
    results.push(r);
    const perCore = Math.floor((legs * TICK_MS) / r.cpuMsPerTick);
    console.log([legs, r.cpuMsPerTick.toFixed(2), ((r.cpuMsPerTick * 1000) / legs).toFixed(1), r.p99Ms.toFixed(2),
      r.lateTicks, r.realTime ? 'yes' : 'NO', perCore].join('\t'));
    // Keep going past an isolated late tick (a noisy neighbour); stop once the mix itself nears the budget.
    if (r.cpuMsPerTick > TICK_MS * 0.7) break;
  }
  const best = results.filter((r) => r.realTime).at(-1);
  if (best) {
    console.log(`largest real-time step: ${best.legs} legs at ${best.cpuMsPerTick.toFixed(2)} ms CPU per 20 ms tick `
      + `→ ${Math.floor((best.legs * TICK_MS) / best.cpuMsPerTick)} legs per core (goal ≥ 200)`);
  }
}

await main();
