import os from 'node:os';
import type { createWorker as CreateWorker, types } from 'mediasoup';
import { createLogger } from '../logging/Logger.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import { resolveMediasoupWorkerBin } from './mediasoupWorkerBin.js';

const logger = createLogger('worker-pool');

export interface WorkerPoolOptions {
  numWorkers: number;
  logLevel: types.WorkerLogLevel;
}

export interface WorkerLoad {
  pid: number;
  routers: number;
}

export type WorkerPoolEvents = { workerdied: [pid: number, error: Error] };

/** What `/readyz` says: `degraded` while a dead worker's replacement is not up yet. */
export interface PoolStatus {
  status: 'ready' | 'degraded' | 'not ready';
  expectedWorkers: number;
  workers: WorkerLoad[];
}

/** How long after a failed start a worker's replacement is tried again. */
const RESPAWN_DELAY_MS = 2000;

/**
 * One mediasoup worker per core (or as configured). Routers go to the worker that hosts the fewest,
 * so rooms spread across cores. A worker that dies is replaced; its rooms rebuild themselves on a live
 * worker (a router asked for while none is alive waits for the replacement).
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #workers: types.Worker[] = [];
  readonly #routerCounts = new Map<types.Worker, number>();
  readonly #options: WorkerPoolOptions;
  readonly #createWorker: typeof CreateWorker;
  /** Workers being started, awaited by routers asked for while none is alive. */
  readonly #starting = new Set<Promise<types.Worker>>();
  #expected = 0;
  #closed = false;

  private constructor(options: WorkerPoolOptions, createWorker: typeof CreateWorker) {
    super();
    this.#options = options;
    this.#createWorker = createWorker;
  }

  /** Starts the workers; resolves once all are up. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    resolveMediasoupWorkerBin();
    // mediasoup reads MEDIASOUP_WORKER_BIN when its module loads, so it is imported only now.
    const mediasoup = await import('mediasoup');
    const pool = new WorkerPool(options, mediasoup.createWorker);
    const count = options.numWorkers > 0 ? options.numWorkers : os.availableParallelism();
    pool.#expected = count;
    await Promise.all(Array.from({ length: count }, () => pool.#spawn()));
    logger.info({ workers: count, version: mediasoup.version }, 'mediasoup workers started');
    return pool;
  }

  async #spawn(): Promise<types.Worker> {
    const starting = this.#createWorker({ logLevel: this.#options.logLevel });
    this.#starting.add(starting);
    let worker: types.Worker;
    try {
      worker = await starting;
    } finally {
      this.#starting.delete(starting);
    }
    if (this.#closed) {
      worker.close();
      return worker;
    }
    this.#workers.push(worker);
    this.#routerCounts.set(worker, 0);
    worker.on('died', (error) => {
      logger.error({ pid: worker.pid, err: error }, 'mediasoup worker died');
      this.#workers.splice(this.#workers.indexOf(worker), 1);
      this.#routerCounts.delete(worker);
      this.safeEmit('workerdied', worker.pid, error);
      this.#replace();
    });
    return worker;
  }

  /** Starts a replacement for a dead worker, again a little later while starting one fails. */
  #replace(): void {
    if (this.#closed) return;
    this.#spawn().then((worker) => logger.info({ pid: worker.pid }, 'mediasoup worker replaced'), (error: unknown) => {
      logger.error({ err: error }, 'cannot replace worker; trying again');
      setTimeout(() => this.#replace(), RESPAWN_DELAY_MS).unref();
    });
  }

  /** Creates a router on the least loaded worker; while none is alive, on the first replacement to start. */
  async createRouter(options: types.RouterOptions): Promise<types.Router> {
    const worker = this.#workers.length === 0 && this.#starting.size > 0 ? await Promise.any([...this.#starting]) : this.#leastLoaded();
    const router = await worker.createRouter(options);
    this.#routerCounts.set(worker, (this.#routerCounts.get(worker) ?? 0) + 1);
    router.observer.once('close', () => {
      if (this.#routerCounts.has(worker)) this.#routerCounts.set(worker, this.#routerCounts.get(worker)! - 1);
    });
    return router;
  }

  #leastLoaded(): types.Worker {
    let best: types.Worker | undefined;
    for (const worker of this.#workers) {
      if (!best || this.#routerCounts.get(worker)! < this.#routerCounts.get(best)!) best = worker;
    }
    if (!best) throw new Error('no mediasoup worker available');
    return best;
  }

  /** Each live worker, and whether the pool is whole, short of workers, or has none. */
  status(): PoolStatus {
    const alive = this.#closed ? 0 : this.#workers.length;
    return {
      status: alive === 0 ? 'not ready' : alive < this.#expected ? 'degraded' : 'ready',
      expectedWorkers: this.#expected,
      workers: this.load(),
    };
  }

  get workers(): readonly types.Worker[] {
    return this.#workers;
  }

  /** Routers per worker, for metrics and placement checks. */
  load(): WorkerLoad[] {
    return this.#workers.map((worker) => ({ pid: worker.pid, routers: this.#routerCounts.get(worker) ?? 0 }));
  }

  close(): void {
    this.#closed = true;
    for (const worker of this.#workers.splice(0)) worker.close();
  }
}
