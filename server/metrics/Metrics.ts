import type { NextFunction, Request, Response } from 'express';
import { Registry, Gauge, Counter, Histogram, collectDefaultMetrics } from 'prom-client';
import { registerMediaMetrics } from './mediaMetrics.js';
import type { Participant } from '../rooms/Participant.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { WorkerPool } from '../workers/WorkerPool.js';
import { RELAY_MIXER_LABEL, type SipCallManager } from '../../sip-connector/calls/SipCallManager.js';
import type { SipServer } from '../../sip-connector/SipServer.js';
import type { MixerStats } from '../../sip-connector/media/mixerProtocol.js';

/** The SIP side, when enabled. */
export interface SipMetricsSource {
  server: SipServer;
  calls: SipCallManager;
}

/** Prometheus metrics, computed from live state at scrape time. */
export class Metrics {
  readonly registry = new Registry();

  constructor(rooms: RoomRegistry, pool: WorkerPool, sip: SipMetricsSource | null = null) {
    collectDefaultMetrics({ register: this.registry, prefix: 'conflux_' });
    const count = (pick: (participant: Participant) => number) =>
      rooms.list().reduce((sum, room) => sum + room.participants.reduce((s, p) => s + pick(p), 0), 0);
    const gauge = (name: string, help: string, value: () => number) => new Gauge({
      name, help, registers: [this.registry], collect() { this.set(value()); },
    });
    gauge('conflux_rooms', 'Open rooms', () => rooms.list().length);
    gauge('conflux_participants', 'Participants in rooms', () => count(() => 1));
    gauge('conflux_producers', 'Producers (incoming tracks)', () => count((p) => p.producers.size));
    gauge('conflux_consumers', 'Consumers (outgoing tracks)', () => count((p) => p.consumers.size));
    gauge('conflux_workers', 'Live mediasoup workers', () => pool.workers.length);
    new Gauge({
      name: 'conflux_worker_routers', help: 'Routers (rooms) per mediasoup worker', labelNames: ['pid'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const load of pool.load()) this.set({ pid: String(load.pid) }, load.routers);
      },
    });
    new Counter({
      name: 'conflux_worker_cpu_seconds_total', help: 'CPU time used by each mediasoup worker', labelNames: ['pid', 'mode'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const worker of pool.workers) {
          const usage = await worker.getResourceUsage();
          this.inc({ pid: String(worker.pid), mode: 'user' }, usage.ru_utime / 1000);
          this.inc({ pid: String(worker.pid), mode: 'system' }, usage.ru_stime / 1000);
        }
      },
    });
    new Gauge({
      name: 'conflux_worker_max_rss_bytes', help: 'Peak resident memory of each mediasoup worker', labelNames: ['pid'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const worker of pool.workers) {
          this.set({ pid: String(worker.pid) }, (await worker.getResourceUsage()).ru_maxrss * 1024);
        }
      },
    });
    registerMediaMetrics(this.registry, rooms);
    this.httpDuration = new Histogram({
      name: 'conflux_http_request_duration_seconds', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry],
    });
    this.joinFailures = new Counter({
      name: 'conflux_join_failures_total', help: 'Refused room joins by reason (token-expired, token-invalid, room-full, room-not-found, …)',
      labelNames: ['reason'], registers: [this.registry],
    });
    const authFailures = new Counter({
      name: 'conflux_auth_failures_total', help: 'Refused credentials by surface (api: the API key; sip: digest answers) and reason',
      labelNames: ['surface', 'reason'], registers: [this.registry],
      collect() {
        // The SIP side keeps its own tally (the stack imports nothing of ours): read at scrape time.
        if (!sip) return;
        for (const [reason, count] of sip.server.authGuard.refusals) {
          this.remove({ surface: 'sip', reason });
          this.inc({ surface: 'sip', reason }, count);
        }
      },
    });
    this.authFailures = authFailures;
    if (sip) this.#sipMetrics(sip);
  }

  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Joins refused, by `reason`. */
  readonly joinFailures: Counter<'reason'>;
  /** Credentials refused, by `surface` (`api`, `sip`) and `reason`. */
  readonly authFailures: Counter<'surface' | 'reason'>;

  /** Express middleware timing each request, labelled with its route's pattern (not its path: no unbounded labels). */
  httpMiddleware(): (request: Request, response: Response, next: NextFunction) => void {
    return (request, response, next) => {
      const end = this.httpDuration.startTimer();
      response.once('finish', () => {
        const route = request.route ? `${request.baseUrl}${String((request.route as { path: string }).path)}` : 'unmatched';
        end({ method: request.method, route, status: String(response.statusCode) });
      });
      next();
    };
  }

  #sipMetrics({ server, calls }: SipMetricsSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'conflux_sip_calls', help: 'Calls in progress by state', labelNames: ['state'], registers,
      collect() {
        this.reset();
        for (const state of ['ringing', 'pin', 'active']) this.set({ state }, 0);
        for (const call of calls.list()) if (call.state !== 'ended') this.inc({ state: call.state });
      },
    });
    const ended = new Counter({ name: 'conflux_sip_calls_ended_total', help: 'Ended calls by reason', labelNames: ['reason', 'direction'], registers });
    calls.on('call.ended', (call) => ended.inc({ reason: call.endReason ?? 'unknown', direction: call.direction }));
    new Counter({
      name: 'conflux_sip_rate_limited_messages_total', help: 'SIP messages dropped unparsed by the per-source rate limit', registers,
      collect() {
        this.reset();
        this.inc(server.transport.rateLimiter?.droppedCount ?? 0);
      },
    });
    new Counter({
      name: 'conflux_sip_scanner_requests_total', help: 'SIP requests from known scanners, dropped unanswered', registers,
      collect() {
        this.reset();
        this.inc(server.transport.scannersDropped);
      },
    });
    new Counter({
      name: 'conflux_sip_responses_total', help: 'SIP responses on the wire (retransmissions included) by direction, CSeq method and status code',
      labelNames: ['direction', 'method', 'code'], registers,
      collect() {
        this.reset();
        for (const { direction, method, status, count } of server.transport.responses.entries()) this.inc({ direction, method, code: String(status) }, count);
      },
    });
    new Counter({
      name: 'conflux_sip_auth_blocks_total', help: 'Sources or users blocked after repeated wrong digest answers', registers,
      collect() {
        this.reset();
        this.inc(server.authGuard.blocks);
      },
    });
    // Mixer health per room with phones: late ticks and concealment show CPU starvation or network loss.
    // One stats round per scrape, shared by every mixer metric (prom-client collects them concurrently).
    let snapshot: { at: number; stats: Promise<Array<{ room: string; stats: MixerStats }>> } | null = null;
    const mixerStats = () => {
      if (!snapshot || performance.now() - snapshot.at > 500) {
        snapshot = {
          at: performance.now(),
          stats: calls.mixerThreads().then((threads) => Promise.all(threads.map(async ({ label, mixer }) => ({
            room: label, stats: await mixer.stats().catch(() => undefined),
          })))).then((all) => all.filter((entry): entry is { room: string; stats: MixerStats } => entry.stats !== undefined)),
        };
      }
      return snapshot.stats;
    };
    new Gauge({
      name: 'conflux_mixer_rooms', help: 'Rooms with a running mixer thread of their own', registers,
      async collect() {
        this.set((await mixerStats()).filter(({ room }) => room !== RELAY_MIXER_LABEL).length);
      },
    });
    const perRoom = (name: string, help: string, pick: (stats: MixerStats) => number, kind: 'counter' | 'gauge') => {
      const collect = async function (this: Counter | Gauge) {
        this.reset();
        for (const { room, stats } of await mixerStats()) {
          if (this instanceof Counter) this.inc({ room }, pick(stats));
          else this.set({ room }, pick(stats));
        }
      };
      if (kind === 'counter') new Counter({ name, help, labelNames: ['room'], registers, collect });
      else new Gauge({ name, help, labelNames: ['room'], registers, collect });
    };
    perRoom('conflux_mixer_late_ticks_total', 'Mixer ticks that started late', (st) => st.lateTicks, 'counter');
    perRoom('conflux_mixer_concealed_frames_total', 'Frames concealed (lost or late packets)', (st) => st.concealedFrames, 'counter');
    perRoom('conflux_mixer_srtp_dropped_total', 'SRTP packets that failed authentication or replay checks', (st) => st.srtpDropped, 'counter');
    perRoom('conflux_mixer_rtp_rejected_total', 'Datagrams refused before the mixer (not negotiated RTP, oversized, or not from the latched source)',
      (st) => st.rtpRejected, 'counter');
    perRoom('conflux_mixer_packets_in_total', 'RTP packets received by the mixer', (st) => st.packetsIn, 'counter');
    perRoom('conflux_mixer_relayed_packets_total', 'RTP packets relayed untranscoded (two-party calls sharing a codec)',
      (st) => st.relayedPackets, 'counter');
    perRoom('conflux_mixer_utilization', 'Busy share of each room mixer thread', (st) => st.utilization, 'gauge');
  }
}
