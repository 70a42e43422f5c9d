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

/**
 * One mediasoup worker per core (or as configured). Routers go to the worker that hosts the fewest,
 * so rooms spread across cores. A worker that dies is replaced; its rooms are closed by the room
 * layer (their routers close with it).
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #workers: types.Worker[] = [];
  readonly #routerCounts = new Map<types.Worker, number>();
  readonly #options: WorkerPoolOptions;
  readonly #createWorker: typeof CreateWorker;
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
    await Promise.all(Array.from({ length: count }, () => pool.#spawn()));
    logger.info({ workers: count, version: mediasoup.version }, 'mediasoup workers started');
    return pool;
  }

  async #spawn(): Promise<types.Worker> {
    const worker = await this.#createWorker({ logLevel: this.#options.logLevel });
    this.#workers.push(worker);
    this.#routerCounts.set(worker, 0);
    worker.on('died', (error) => {
      logger.error({ pid: worker.pid, err: error }, 'mediasoup worker died');
      this.#workers.splice(this.#workers.indexOf(worker), 1);
      this.#routerCounts.delete(worker);
      this.safeEmit('workerdied', worker.pid, error);
      if (!this.#closed) {
        this.#spawn().catch((spawnError: unknown) => logger.error({ err: spawnError }, 'cannot replace worker'));
      }
    });
    return worker;
  }

  /** Creates a router on the least loaded worker. */
  async createRouter(options: types.RouterOptions): Promise<types.Router> {
    const worker = this.#leastLoaded();
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

  get ready(): boolean {
    return !this.#closed && this.#workers.length > 0;
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
