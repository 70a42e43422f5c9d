import type { SipLogger } from './Logger.js';
import { InviteClientTransaction } from './InviteClientTransaction.js';
import { InviteServerTransaction } from './InviteServerTransaction.js';
import { NonInviteClientTransaction } from './NonInviteClientTransaction.js';
import { NonInviteServerTransaction } from './NonInviteServerTransaction.js';
import { BRANCH_COOKIE } from './SipRandom.js';
import type { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import type { TransportLayer } from './TransportLayer.js';
import type { Destination, MessageSource } from './TransportTypes.js';
import { TypedEmitter } from './TypedEmitter.js';
import { DEFAULT_TIMERS, type SipTimers } from './TransactionTypes.js';

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/** What the transaction layer hands to the UA core. */
export type TransactionLayerEvents = {
  /** A new request; `tx` is undefined for ACKs that matched no transaction (ACK for 2xx). */
  request: [req: SipRequest, tx: ServerTransaction | undefined, source: MessageSource];
  /** A response that matched no client transaction (e.g. a late 2xx retransmission). */
  strayResponse: [res: SipResponse, source: MessageSource];
  /** A CANCEL matched this INVITE transaction and was answered 200; the TU must end the INVITE with 487. */
  cancel: [invite: InviteServerTransaction, cancel: SipRequest];
};

/** Matches messages to transactions (RFC 3261 §17.1.3, §17.2.3) and creates new ones. */
export class TransactionLayer extends TypedEmitter<TransactionLayerEvents> {
  readonly timers: SipTimers;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();

  constructor(readonly transport: TransportLayer, private readonly logger: SipLogger, timers: Partial<SipTimers> = {}) {
    super();
    this.timers = { ...DEFAULT_TIMERS, ...timers };
    transport.on('request', (req, source) => this.onRequest(req, source));
    transport.on('response', (res, source) => this.onResponse(res, source));
  }

  /** Number of live transactions (for tests and metrics). */
  get size(): { client: number; server: number } {
    return { client: this.clients.size, server: this.servers.size };
  }

  private static serverKey(req: SipRequest, method = req.method): string {
    const via = req.topVia;
    const branch = via.branch;
    if (branch?.startsWith(BRANCH_COOKIE)) return `${branch}|${via.sentBy}|${method}`;
    // RFC 2543 peers: fall back to the dialog and CSeq identifiers (§17.2.3)
    return `${req.callId}|${req.from.tag ?? ''}|${req.cseq.seq}|${via.toString()}|${method}`;
  }

  private static clientKey(branch: string, method: string): string {
    return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
  }

  private onRequest(req: SipRequest, source: MessageSource): void {
    let key: string;
    try {
      key = TransactionLayer.serverKey(req, req.method === 'ACK' ? 'INVITE' : req.method);
    } catch {
      return;
    }
    const existing = this.servers.get(key);
    if (existing) {
      existing.receiveRequest(req);
      return;
    }
    if (req.method === 'ACK') {
      this.safeEmit('request', req, undefined, source);
      return;
    }
    const tx = this.createServer(req, source, key);
    if (req.method === 'CANCEL') {
      const invite = this.servers.get(TransactionLayer.serverKey(req, 'INVITE'));
      if (invite instanceof InviteServerTransaction && invite.state === 'proceeding') {
        invite.cancelled = true;
        tx.respond(SipResponse.forRequest(req, 200));
        this.safeEmit('cancel', invite, req);
      } else {
        tx.respond(SipResponse.forRequest(req, 481));
      }
      return;
    }
    this.safeEmit('request', req, tx, source);
  }

  private createServer(req: SipRequest, source: MessageSource, key: string): ServerTransaction {
    const channel = {
      reliable: this.transport.isReliable(source.transport),
      send: (msg: SipResponse | SipRequest) => this.transport.sendResponse(msg as SipResponse, source),
    };
    const log = this.logger.child({ callId: req.callId });
    const tx = req.method === 'INVITE'
      ? new InviteServerTransaction(req, channel, this.timers, log)
      : new NonInviteServerTransaction(req, channel, this.timers, log);
    this.servers.set(key, tx);
    tx.once('terminated', () => this.servers.delete(key));
    return tx;
  }

  private onResponse(res: SipResponse, source: MessageSource): void {
    let key: string;
    try {
      key = TransactionLayer.clientKey(res.topVia.branch ?? '', res.cseq.method);
    } catch {
      return;
    }
    const tx = this.clients.get(key);
    if (tx) tx.receiveResponse(res);
    else this.safeEmit('strayResponse', res, source);
  }

  /** Creates and starts a client transaction for `req` (its top Via must carry a fresh branch). */
  sendRequest(req: SipRequest, dest: Destination): ClientTransaction {
    const channel = {
      reliable: this.transport.isReliable(dest.transport),
      send: (msg: SipRequest | SipResponse) => this.transport.sendRequest(msg as SipRequest, dest),
    };
    const log = this.logger.child({ callId: req.callId });
    const tx = req.method === 'INVITE'
      ? new InviteClientTransaction(req, channel, this.timers, log)
      : new NonInviteClientTransaction(req, channel, this.timers, log);
    const key = TransactionLayer.clientKey(tx.branch, req.method);
    this.clients.set(key, tx);
    tx.once('terminated', () => this.clients.delete(key));
    tx.start();
    return tx;
  }

  /** Sends an ACK for a 2xx, which travels outside any transaction (§13.2.2.4). */
  sendAck(ack: SipRequest, dest: Destination): void {
    this.transport.sendRequest(ack, dest).catch((err: Error) => this.logger.debug({ err: err.message, callId: ack.callId }, 'ACK send failed'));
  }

  /** Terminates every transaction. */
  close(): void {
    for (const tx of [...this.clients.values(), ...this.servers.values()]) tx.terminate();
  }
}
