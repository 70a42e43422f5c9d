import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client';
import type { Participant } from '../rooms/Participant.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { WorkerPool } from '../workers/WorkerPool.js';

/** Prometheus metrics, computed from live state at scrape time. */
export class Metrics {
  readonly registry = new Registry();

  constructor(rooms: RoomRegistry, pool: WorkerPool) {
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
  }
}
