import type { SipLogger } from './Logger.js';
import type { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import { Transaction } from './Transaction.js';
import type { ServerTransactionEvents, SipTimers, TransactionChannel } from './TransactionTypes.js';

type State = 'proceeding' | 'completed' | 'confirmed' | 'accepted';

/** INVITE server transaction (RFC 3261 §17.2.1 with the RFC 6026 Accepted state). */
export class InviteServerTransaction extends Transaction<ServerTransactionEvents, State> {
  private lastResponse: SipResponse | undefined;
  /** Set when a CANCEL for this INVITE arrived. */
  cancelled = false;

  constructor(request: SipRequest, channel: TransactionChannel, timers: SipTimers, logger: SipLogger) {
    super(request, channel, timers, logger, 'proceeding');
    // §17.2.1: answer 100 unless the TU replies within 200 ms, to stop INVITE retransmissions
    this.startTimer('trying', 200, () => {
      if (!this.lastResponse) this.respond(SipResponse.forRequest(request, 100));
    });
  }

  /** Whether any response (a 100 included) has been sent. */
  get responded(): boolean {
    return this.lastResponse !== undefined;
  }

  /**
   * Sends a response from the TU and moves the state machine accordingly. With `retransmit` false, a final
   * error is sent without Timer G (the way a stateless proxy refuses: a retransmitted INVITE is answered
   * again, nothing is sent unasked) and the transaction lingers only T4 to absorb the ACK: refusing an
   * attacker's INVITE costs one datagram, not eleven over 32 s.
   */
  respond(res: SipResponse, retransmit = true): void {
    const s = res.status;
    this.stopTimer('trying');
    if (this.state === 'proceeding') {
      this.lastResponse = res;
      this.transmit(res);
      if (s < 200) return;
      if (s < 300) {
        this.state = 'accepted';
        this.startTimer('L', 64 * this.timers.t1Ms, () => this.terminate());
        return;
      }
      this.state = 'completed';
      if (!retransmit) {
        this.startTimer('H', this.timers.t4Ms, () => this.terminate());
        return;
      }
      if (!this.channel.reliable) this.retransmitG(this.timers.t1Ms);
      this.startTimer('H', 64 * this.timers.t1Ms, () => {
        this.safeEmit('timeout');
        this.terminate();
      });
    } else if (this.state === 'accepted' && s >= 200 && s < 300) {
      // 2xx retransmissions are driven by the UA core (§13.3.1.4) and pass straight through
      this.transmit(res);
    }
  }

  private retransmitG(interval: number): void {
    this.startTimer('G', interval, () => {
      if (this.state !== 'completed' || !this.lastResponse) return;
      this.transmit(this.lastResponse);
      this.retransmitG(Math.min(interval * 2, this.timers.t2Ms));
    });
  }

  /** Feeds a retransmitted INVITE or an ACK matched to this transaction. */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state === 'completed') {
        this.state = 'confirmed';
        this.stopTimer('G');
        this.stopTimer('H');
        this.startTimer('I', this.channel.reliable ? 0 : this.timers.t4Ms, () => this.terminate());
      }
      this.safeEmit('absorbed', req);
      return;
    }
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
    this.safeEmit('absorbed', req);
  }

  /** The last response sent, if any. */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }
}
