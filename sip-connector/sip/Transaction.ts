import type { SipLogger } from './Logger.js';
import type { SipRequest } from './SipRequest.js';
import { TypedEmitter, type EventMap } from './TypedEmitter.js';
import type { SipTimers, TransactionChannel } from './TransactionTypes.js';

/** State and timer plumbing shared by the four RFC 3261 §17 state machines. */
export abstract class Transaction<E extends EventMap & { terminated: []; transportError: [error: Error] }, S extends string>
  extends TypedEmitter<E> {
  protected timersById = new Map<string, NodeJS.Timeout>();
  state: S | 'terminated';

  constructor(
    readonly request: SipRequest,
    protected readonly channel: TransactionChannel,
    protected readonly timers: SipTimers,
    protected readonly logger: SipLogger,
    initial: S,
  ) {
    super();
    this.state = initial;
  }

  /** The branch of the request's top Via: the transaction id on the wire. */
  get branch(): string {
    return this.request.topVia.branch ?? '';
  }

  protected startTimer(name: string, ms: number, fire: () => void): void {
    this.stopTimer(name);
    const t = setTimeout(() => {
      this.timersById.delete(name);
      if (this.state !== 'terminated') fire();
    }, ms);
    t.unref();
    this.timersById.set(name, t);
  }

  protected stopTimer(name: string): void {
    const t = this.timersById.get(name);
    if (t) clearTimeout(t);
    this.timersById.delete(name);
  }

  /** True while the named timer is pending (for tests and diagnostics). */
  hasTimer(name: string): boolean {
    return this.timersById.has(name);
  }

  protected transmit(msg: Parameters<TransactionChannel['send']>[0]): void {
    this.channel.send(msg).catch((err: Error) => {
      if (this.state === 'terminated') return;
      this.logger.debug({ err: err.message }, 'transport error in transaction');
      (this as unknown as TypedEmitter<{ transportError: [Error] }>).safeEmit('transportError', err);
      this.terminate();
    });
  }

  /** Stops every timer and enters Terminated. */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    for (const t of this.timersById.values()) clearTimeout(t);
    this.timersById.clear();
    (this as unknown as TypedEmitter<{ terminated: [] }>).safeEmit('terminated');
  }
}
