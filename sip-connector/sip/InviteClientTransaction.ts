import type { SipLogger } from './Logger.js';
import { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import { Transaction } from './Transaction.js';
import type { ClientTransactionEvents, SipTimers, TransactionChannel } from './TransactionTypes.js';

type State = 'calling' | 'proceeding' | 'completed' | 'accepted';

/** INVITE client transaction (RFC 3261 §17.1.1 with the RFC 6026 Accepted state). */
export class InviteClientTransaction extends Transaction<ClientTransactionEvents, State> {
  private ack: SipRequest | undefined;

  constructor(request: SipRequest, channel: TransactionChannel, timers: SipTimers, logger: SipLogger) {
    super(request, channel, timers, logger, 'calling');
  }

  /** Sends the INVITE and arms timers A and B. */
  start(): void {
    this.transmit(this.request);
    if (!this.channel.reliable) this.retransmitA(this.timers.t1Ms);
    this.startTimer('B', 64 * this.timers.t1Ms, () => {
      if (this.state === 'calling') {
        this.safeEmit('timeout');
        this.terminate();
      }
    });
  }

  private retransmitA(interval: number): void {
    this.startTimer('A', interval, () => {
      if (this.state !== 'calling') return;
      this.transmit(this.request);
      this.retransmitA(interval * 2);
    });
  }

  /** Feeds a response matched to this transaction. */
  receiveResponse(res: SipResponse): void {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        this.stopTimer('A');
        if (s < 200) {
          this.state = 'proceeding';
          this.safeEmit('response', res);
        } else if (s < 300) {
          this.state = 'accepted';
          this.stopTimer('B');
          this.startTimer('M', 64 * this.timers.t1Ms, () => this.terminate());
          this.safeEmit('response', res);
        } else {
          this.state = 'completed';
          this.stopTimer('B');
          this.ack = this.buildAck(res);
          this.transmit(this.ack);
          this.startTimer('D', this.channel.reliable ? 0 : Math.max(32_000, 64 * this.timers.t1Ms), () => this.terminate());
          this.safeEmit('response', res);
        }
        break;
      case 'completed':
        if (s >= 300 && this.ack) this.transmit(this.ack);
        break;
      case 'accepted':
        if (s >= 200 && s < 300) this.safeEmit('response', res);
        break;
      default:
        break;
    }
  }

  /** RFC 3261 §17.1.1.3: the ACK for a non-2xx final response belongs to the transaction. */
  private buildAck(res: SipResponse): SipRequest {
    const inv = this.request;
    const ack = new SipRequest('ACK', inv.uri.clone());
    ack.add('Via', inv.getAll('Via')[0] as string);
    for (const r of inv.getAll('Route')) ack.add('Route', r);
    ack.add('Max-Forwards', 70);
    ack.add('From', inv.get('From') as string);
    ack.add('To', res.get('To') as string);
    ack.add('Call-ID', inv.callId);
    ack.add('CSeq', `${inv.cseq.seq} ACK`);
    return ack;
  }
}
