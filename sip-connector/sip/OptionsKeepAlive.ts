import type { SipLogger } from './Logger.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { UserAgent } from './UserAgent.js';

export type OptionsKeepAliveEvents = {
  /** The target answered (any final response means it is alive). */
  up: [status: number, rttMs: number];
  /** The target stopped answering (timeout or transport failure). */
  down: [status: number];
};

/** Pings a trunk with OPTIONS at an interval and reports reachability changes. */
export class OptionsKeepAlive extends TypedEmitter<OptionsKeepAliveEvents> {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Undefined until the first answer. */
  alive: boolean | undefined;
  private readonly log: SipLogger;

  constructor(private readonly ua: UserAgent, readonly target: string, private readonly intervalMs = 30_000) {
    super();
    this.log = ua.logger.child({ keepAlive: target });
  }

  /** Starts pinging now. */
  start(): void {
    this.running = true;
    void this.ping();
  }

  /** Sends one OPTIONS and reports the result. */
  async ping(): Promise<number> {
    const started = Date.now();
    const res = await this.ua.sendOptions(this.target);
    const alive = res.status !== 408 && res.status !== 503;
    if (alive !== this.alive) this.log.info({ status: res.status }, alive ? 'trunk reachable' : 'trunk unreachable');
    this.alive = alive;
    if (alive) this.safeEmit('up', res.status, Date.now() - started);
    else this.safeEmit('down', res.status);
    if (this.running && this.intervalMs > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => { void this.ping(); }, this.intervalMs);
      this.timer.unref();
    }
    return res.status;
  }

  /** Stops pinging. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
