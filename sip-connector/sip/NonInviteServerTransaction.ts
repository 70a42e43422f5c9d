import type { SipLogger } from './Logger.js';
import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import { Transaction } from './Transaction.js';
import type { ServerTransactionEvents, SipTimers, TransactionChannel } from './TransactionTypes.js';

type State = 'trying' | 'proceeding' | 'completed';

/** Non-INVITE server transaction (RFC 3261 §17.2.2). */
export class NonInviteServerTransaction extends Transaction<ServerTransactionEvents, State> {
  private lastResponse: SipResponse | undefined;

  constructor(request: SipRequest, channel: TransactionChannel, timers: SipTimers, logger: SipLogger) {
    super(request, channel, timers, logger, 'trying');
  }

  /** Sends a response from the TU. */
  respond(res: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.lastResponse = res;
    this.transmit(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    this.startTimer('J', this.channel.reliable ? 0 : 64 * this.timers.t1Ms, () => this.terminate());
  }

  /** Feeds a retransmission of the request. */
  receiveRequest(req: SipRequest): void {
    if (this.state !== 'trying' && this.lastResponse) this.transmit(this.lastResponse);
    this.safeEmit('absorbed', req);
  }

  /** The last response sent, if any. */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }
}
