import type { SipLogger } from './Logger.js';
import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import { Transaction } from './Transaction.js';
import type { ClientTransactionEvents, SipTimers, TransactionChannel } from './TransactionTypes.js';

type State = 'trying' | 'proceeding' | 'completed';

/** Non-INVITE client transaction (RFC 3261 §17.1.2). */
export class NonInviteClientTransaction extends Transaction<ClientTransactionEvents, State> {
  constructor(request: SipRequest, channel: TransactionChannel, timers: SipTimers, logger: SipLogger) {
    super(request, channel, timers, logger, 'trying');
  }

  /** Sends the request and arms timers E and F. */
  start(): void {
    this.transmit(this.request);
    if (!this.channel.reliable) this.retransmitE(this.timers.t1Ms);
    this.startTimer('F', 64 * this.timers.t1Ms, () => {
      this.safeEmit('timeout');
      this.terminate();
    });
  }

  private retransmitE(interval: number): void {
    this.startTimer('E', interval, () => {
      if (this.state === 'completed') return;
      this.transmit(this.request);
      // in Proceeding the interval is pinned to T2 (§17.1.2.2)
      this.retransmitE(this.state === 'proceeding' ? this.timers.t2Ms : Math.min(interval * 2, this.timers.t2Ms));
    });
  }

  /** Feeds a response matched to this transaction. */
  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.safeEmit('response', res);
      return;
    }
    this.state = 'completed';
    this.stopTimer('E');
    this.stopTimer('F');
    this.startTimer('K', this.channel.reliable ? 0 : this.timers.t4Ms, () => this.terminate());
    this.safeEmit('response', res);
  }
}
