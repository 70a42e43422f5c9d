import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SipLogger } from './Logger.js';
import { SipParser } from './SipParser.js';
import type { SipParserLimits } from './SipParserTypes.js';
import { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import type { SipTransport } from './SipTransport.js';
import { SipTransportError } from './SipTransportError.js';
import { isScanner } from './ScannerFilter.js';
import { SourceRateLimiter, type RateLimit } from './SourceRateLimiter.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { Destination, MessageSource, TransportKind } from './TransportTypes.js';
import type { SipUri } from './SipUri.js';
import { Via } from './Via.js';

/** Events the transport layer passes up to the transaction layer. */
export type TransportLayerEvents = {
  request: [req: SipRequest, source: MessageSource];
  response: [res: SipResponse, source: MessageSource];
  flowClosed: [flowId: string];
};

/**
 * Owns the transports: parses what arrives (answering broken requests with 400), stamps received/rport
 * on the top Via (RFC 3261 §18.2.1, RFC 3581) and routes responses back along the Via (§18.2.2).
 */
export class TransportLayer extends TypedEmitter<TransportLayerEvents> {
  readonly transports = new Map<TransportKind, SipTransport>();
  readonly parser: SipParser;
  /** Drops messages from a source over its rate, before any parsing; absent: no limit. */
  readonly rateLimiter: SourceRateLimiter | null;
  /** Requests from known scanners, dropped unanswered. */
  scannersDropped = 0;
  /** Responses on the wire, retransmissions included: by `sent`/`received`, the CSeq method and the status. */
  readonly responses = new ResponseCounts();

  constructor(private readonly logger: SipLogger, readonly advertisedHost: string, limits: Partial<SipParserLimits> = {},
    rateLimit?: RateLimit) {
    super();
    this.parser = new SipParser(limits);
    this.rateLimiter = rateLimit ? new SourceRateLimiter(rateLimit) : null;
  }

  /** Adds a transport and starts listening on it. */
  async add(transport: SipTransport): Promise<void> {
    await transport.listen();
    this.transports.set(transport.kind, transport);
    transport.on('message', (data, source) => this.onData(data, source));
    transport.on('flowClosed', (id) => this.safeEmit('flowClosed', id));
  }

  /** The transport for a kind, if enabled. */
  get(kind: TransportKind): SipTransport | undefined {
    return this.transports.get(kind);
  }

  /** Injects received bytes as if they arrived on a transport (used by the transports, and by tests). */
  onData(data: Buffer, source: MessageSource): void {
    if (this.rateLimiter && !this.rateLimiter.admit(source.address)) return;
    const reliableStream = source.transport === 'tcp' || source.transport === 'tls';
    const result = this.parser.parse(data, reliableStream);
    if (!result.ok) {
      this.logger.debug({ err: result.error.message, from: `${source.address}:${source.port}` }, 'unparsable SIP message');
      if (result.request) {
        const status = result.error.status;
        const reason = `${status === 400 ? 'Bad Request' : status === 505 ? 'Version Not Supported' : 'Message Too Large'} (${result.error.message})`;
        const res = SipResponse.forRequest(result.request, status, reason.replace(/[\r\n]/g, ' '));
        try {
          this.stampVia(result.request, res, source);
        } catch {
          return;
        }
        this.sendResponse(res, source).catch(() => undefined);
      }
      return;
    }
    const msg = result.message;
    if (msg instanceof SipRequest) {
      if (isScanner(msg)) {
        this.scannersDropped += 1;
        return;
      }
      try {
        this.stampVia(msg, undefined, source);
      } catch {
        return;
      }
      this.safeEmit('request', msg, source);
    } else {
      this.responses.count('received', msg.cseq.method, msg.status);
      this.safeEmit('response', msg, source);
    }
  }

  /** RFC 3261 §18.2.1 / RFC 3581 §4: record where the request really came from. */
  private stampVia(req: SipRequest, res: SipResponse | undefined, source: MessageSource): void {
    const via = req.topVia;
    if (via.host !== source.address) via.params.set('received', source.address);
    if (via.params.has('rport')) {
      via.params.set('rport', String(source.port));
      via.params.set('received', source.address);
    }
    req.setTopVia(via);
    if (res) res.setTopVia(via);
  }

  /** Resolves a URI (Request-URI or first Route) to a destination (RFC 3263 without SRV/NAPTR). */
  async resolve(uri: SipUri): Promise<Destination> {
    let transport = (uri.transport ?? (uri.scheme === 'sips' ? 'tls' : 'udp')) as TransportKind;
    if (uri.scheme === 'sips' && transport === 'tcp') transport = 'tls';
    if (!['udp', 'tcp', 'tls', 'ws', 'wss'].includes(transport)) throw new SipTransportError(`unsupported transport ${transport}`);
    if (!this.transports.has(transport)) throw new SipTransportError(`transport ${transport} not enabled`);
    const maddr = uri.params.get('maddr');
    const host = maddr ?? uri.host;
    const address = isIP(host) ? host : (await lookup(host)).address;
    const port = uri.port ?? (transport === 'tls' ? 5061 : transport === 'ws' ? 80 : transport === 'wss' ? 443 : 5060);
    return { transport, address, port };
  }

  /** A fresh top Via for a request leaving on `kind`. */
  viaFor(kind: TransportKind, branch: string): Via {
    const t = this.transports.get(kind);
    return new Via(kind.toUpperCase(), this.advertisedHost, t?.port, new Map([['branch', branch], ['rport', null]]));
  }

  /** Port this host listens on for `kind`. */
  portFor(kind: TransportKind): number | undefined {
    return this.transports.get(kind)?.port;
  }

  /** True when `kind` needs no SIP-level retransmissions. */
  isReliable(kind: TransportKind): boolean {
    return kind !== 'udp';
  }

  /** Sends a request (or ACK) to a resolved destination. */
  async sendRequest(req: SipRequest, dest: Destination): Promise<void> {
    const t = this.transports.get(dest.transport);
    if (!t) throw new SipTransportError(`transport ${dest.transport} not enabled`);
    await t.send(req.toBuffer(), dest);
  }

  /** Sends a response back along the top Via: same connection if open, else received/rport, else sent-by. */
  async sendResponse(res: SipResponse, source?: MessageSource): Promise<void> {
    const via = res.topVia;
    const kind = via.transport.toLowerCase() as TransportKind;
    const t = this.transports.get(kind) ?? (source ? this.transports.get(source.transport) : undefined);
    if (!t) throw new SipTransportError(`no transport for response over ${kind}`);
    const data = res.toBuffer();
    this.responses.count('sent', res.cseq.method, res.status);
    if (t.reliable && source?.flowId && t.hasFlow(source.flowId)) {
      await t.send(data, { transport: t.kind, address: source.address, port: source.port, flowId: source.flowId });
      return;
    }
    const address = via.received ?? via.host;
    const rport = via.rport;
    const port = t.reliable ? (via.port ?? 5060) : (typeof rport === 'number' ? rport : (via.port ?? 5060));
    await t.send(data, { transport: t.kind, address, port });
  }

  /** Closes every transport. */
  async close(): Promise<void> {
    await Promise.all([...this.transports.values()].map((t) => t.close()));
    this.transports.clear();
  }
}

/** Methods a response is counted under by name; any other CSeq method a peer writes counts as `other` (labels stay bounded). */
const COUNTED_METHODS: ReadonlySet<string> = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK',
  'REFER', 'NOTIFY', 'SUBSCRIBE', 'MESSAGE']);

/** Counts of SIP responses by direction, method and status. */
export class ResponseCounts {
  readonly #counts = new Map<string, { direction: 'sent' | 'received'; method: string; status: number; count: number }>();

  count(direction: 'sent' | 'received', method: string, status: number): void {
    const name = COUNTED_METHODS.has(method) ? method : 'other';
    const key = `${direction} ${name} ${status}`;
    const entry = this.#counts.get(key);
    if (entry) entry.count += 1;
    else this.#counts.set(key, { direction, method: name, status, count: 1 });
  }

  entries(): Array<{ direction: 'sent' | 'received'; method: string; status: number; count: number }> {
    return [...this.#counts.values()].map((entry) => ({ ...entry }));
  }
}
