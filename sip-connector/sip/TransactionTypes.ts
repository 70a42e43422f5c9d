import type { SipMessage } from './SipMessage.js';
import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';

/** RFC 3261 base timers. */
export interface SipTimers {
  /** RTT estimate, default 500 ms. */
  t1Ms: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  t2Ms: number;
  /** Maximum time a message stays in the network, default 5 s. */
  t4Ms: number;
}

export const DEFAULT_TIMERS: SipTimers = { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 };

/** How a transaction puts messages on the wire; rejections are reported as transport errors. */
export interface TransactionChannel {
  reliable: boolean;
  send(msg: SipMessage): Promise<void>;
}

export type ClientTransactionEvents = {
  /** Every response the TU must see (provisional, final, and 2xx retransmissions for INVITE). */
  response: [res: SipResponse];
  /** Timer B or F fired without a final response. */
  timeout: [];
  transportError: [error: Error];
  terminated: [];
};

export type ServerTransactionEvents = {
  /** A request retransmission or ACK absorbed by the transaction (for diagnostics). */
  absorbed: [req: SipRequest];
  /** Timer H fired: a non-2xx final response was never acknowledged. */
  timeout: [];
  transportError: [error: Error];
  terminated: [];
};
