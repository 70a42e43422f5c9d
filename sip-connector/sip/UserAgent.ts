import { Dialog } from './Dialog.js';
import { DigestClient, parseChallenge } from './DigestAuth.js';
import { IncomingCall } from './IncomingCall.js';
import { InviteServerTransaction } from './InviteServerTransaction.js';
import type { SipLogger } from './Logger.js';
import { NameAddr } from './NameAddr.js';
import { OutgoingCall } from './OutgoingCall.js';
import { newBranch, randomToken } from './SipRandom.js';
import { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import { SipUri } from './SipUri.js';
import type { Call } from './Call.js';
import type { InviteOptions } from './CallTypes.js';
import type { ClientTransaction, ServerTransaction, TransactionLayer } from './TransactionLayer.js';
import type { SipTimers } from './TransactionTypes.js';
import type { Destination, MessageSource, TransportKind } from './TransportTypes.js';
import type { TransportLayer } from './TransportLayer.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { InviteHandler, UserAgentEvents, UserAgentOptions } from './UserAgentTypes.js';
import type { Registrar } from './Registrar.js';
import { clampSeconds, MAX_SESSION_EXPIRES_SEC } from './PeerSeconds.js';

const SUPPORTED_EXTENSIONS = ['100rel', 'timer', 'replaces', 'norefersub'];

/** Options of a request sent outside a dialog. */
export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
  destination?: Destination;
  from?: string;
  /** Call-ID to reuse (registrations keep theirs across refreshes). */
  callId?: string;
  fromTag?: string;
  cseq?: number;
  /** Hops the request may still take (RFC 3261 §8.1.1.6); 70 by default. */
  maxForwards?: number;
}

/**
 * The UA core (RFC 3261 §8): turns transactions into calls, registrations and simple request/response
 * exchanges. Commands go down through the transaction layer; events come up from it.
 */
export class UserAgent extends TypedEmitter<UserAgentEvents> {
  readonly logger: SipLogger;
  readonly userName: string;
  readonly productName: string;
  readonly allow = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, REGISTER';
  readonly digest: DigestClient;
  readonly registrar: Registrar | undefined;
  readonly sessionExpiresSec: number;
  readonly minSessionExpiresSec: number;
  private readonly domain: string | undefined;
  private inviteHandler: InviteHandler | undefined;
  private readonly dialogs = new Map<string, Call>();
  private readonly byInviteTx = new Map<InviteServerTransaction, IncomingCall>();
  private readonly calls = new Set<Call>();
  private readonly acks = new WeakMap<SipRequest, { ack: SipRequest; dest: Destination }>();

  constructor(readonly transactions: TransactionLayer, opts: UserAgentOptions) {
    super();
    this.logger = opts.logger;
    this.userName = opts.userName ?? 'conflux';
    this.productName = opts.productName ?? 'conflux';
    this.digest = new DigestClient(opts.credentials ?? []);
    this.registrar = opts.registrar;
    this.domain = opts.domain;
    this.sessionExpiresSec = opts.sessionExpiresSec ?? 0;
    this.minSessionExpiresSec = opts.minSessionExpiresSec ?? 90;
    transactions.on('request', (req, tx, source) => this.onRequest(req, tx, source));
    transactions.on('cancel', (inviteTx, cancel) => this.byInviteTx.get(inviteTx)?.onCancel(cancel));
    transactions.on('strayResponse', (res) => this.onStrayResponse(res));
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.logger.error({ err: error, event }, 'user agent listener threw');
  }

  get transport(): TransportLayer {
    return this.transactions.transport;
  }

  get timers(): SipTimers {
    return this.transactions.timers;
  }

  /** Number of calls in progress. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** Registers the handler for new incoming calls (without one, INVITEs are rejected 404). */
  onInvite(handler: InviteHandler | undefined): void {
    this.inviteHandler = handler;
  }

  /** Starts an outgoing call to `target` (a SIP URI) offering `sdp`. */
  sendInvite(target: string, sdp: string, opts: InviteOptions = {}): OutgoingCall {
    const uri = SipUri.parse(target.includes(':') ? target : `sip:${target}`);
    const call = new OutgoingCall(this, uri, sdp, opts);
    call.start();
    return call;
  }

  /** Sends an out-of-dialog OPTIONS and resolves with the final response. */
  sendOptions(target: string, opts: RequestOptions = {}): Promise<SipResponse> {
    return this.request('OPTIONS', target, opts);
  }

  /** Sends an out-of-dialog request and resolves with its final response (answering digest challenges once). */
  async request(method: string, target: string, opts: RequestOptions = {}): Promise<SipResponse> {
    const uri = SipUri.parse(target.includes(':') ? target : `sip:${target}`);
    const req = this.buildRequest(method, uri, opts);
    return this.requestFinal(req, opts.destination);
  }

  /** Builds an out-of-dialog request with the mandatory headers (§8.1.1). */
  buildRequest(method: string, uri: SipUri, opts: RequestOptions = {}): SipRequest {
    const req = new SipRequest(method, uri);
    req.add('Max-Forwards', opts.maxForwards ?? 70);
    const from = opts.from ? NameAddr.parse(opts.from) : new NameAddr(this.defaultFromUri());
    from.tag = opts.fromTag ?? randomToken(6);
    req.add('From', from.toString());
    const to = new NameAddr(uri.clone());
    to.uri.params.clear();
    to.uri.headers.clear();
    req.add('To', to.toString());
    req.add('Call-ID', opts.callId ?? `${randomToken(12)}@${this.transport.advertisedHost}`);
    req.add('CSeq', `${opts.cseq ?? 1} ${method}`);
    for (const [k, v] of Object.entries(opts.headers ?? {})) req.add(k, v);
    if (opts.body !== undefined) {
      req.set('Content-Type', opts.contentType ?? 'application/sdp');
      req.bodyText = opts.body;
    }
    return req;
  }

  /** Default From URI of requests this UA originates. */
  defaultFromUri(): SipUri {
    return new SipUri({ scheme: 'sip', user: this.userName, host: this.domain ?? this.transport.advertisedHost });
  }

  /** A Contact for a request leaving on `kind` (or within `dialog`). */
  contactFor(target: Dialog | TransportKind): string {
    const kind = typeof target === 'string' ? target : this.dialogTransport(target);
    const uri = new SipUri({ scheme: 'sip', user: this.userName, host: this.transport.advertisedHost, port: this.transport.portFor(kind) });
    if (kind !== 'udp') uri.params.set('transport', kind);
    return `<${uri.toString()}>`;
  }

  private dialogTransport(dialog: Dialog): TransportKind {
    if (dialog.flow) return dialog.flow.transport;
    const hop = dialog.nextHop();
    return (hop.transport ?? (hop.scheme === 'sips' ? 'tls' : 'udp')) as TransportKind;
  }

  /** Resolves where a request goes: the forced destination, the dialog's flow, or the first Route / Request-URI. */
  async destinationFor(req: SipRequest, dialog?: Dialog, forced?: Destination): Promise<Destination> {
    if (forced) return forced;
    const flow = dialog?.flow;
    if (flow?.flowId && dialog && dialog.routeSet.length === 0 && this.transport.get(flow.transport)?.hasFlow(flow.flowId)) {
      return { transport: flow.transport, address: flow.address, port: flow.port, flowId: flow.flowId };
    }
    const route = req.getAll('Route')[0];
    const hop = route ? NameAddr.parse(route).uri : req.uri;
    try {
      return await this.transport.resolve(hop);
    } catch (err) {
      if (flow) return { transport: flow.transport, address: flow.address, port: flow.port, ...(flow.flowId ? { flowId: flow.flowId } : {}) };
      throw err;
    }
  }

  /** Adds our Via and starts a client transaction for `req`. */
  startTransaction(req: SipRequest, dest: Destination): ClientTransaction {
    req.prepend('Via', this.transport.viaFor(dest.transport, newBranch()).toString());
    if (!req.has('User-Agent')) req.add('User-Agent', this.productName);
    return this.transactions.sendRequest(req, dest);
  }

  /**
   * Sends `req` and resolves with its final response. Timeouts and transport failures resolve as 408 and
   * 503 (§8.1.3.1); a 401/407 is answered once with credentials. `on2xx` sees every 2xx (INVITE ACKs).
   */
  async requestFinal(req: SipRequest, forced?: Destination, dialog?: Dialog, on2xx?: (res: SipResponse) => void,
    onProvisional?: (res: SipResponse) => void, digest: DigestClient = this.digest): Promise<SipResponse> {
    let dest: Destination;
    try {
      dest = await this.destinationFor(req, dialog, forced);
    } catch (err) {
      this.logger.debug({ callId: req.callId, err: (err as Error).message }, 'no route for request');
      return SipResponse.forRequest(req, 503, 'No Route');
    }
    const res = await this.runTransaction(req, dest, on2xx, onProvisional);
    if ((res.status === 401 || res.status === 407) && !req.has(res.status === 401 ? 'Authorization' : 'Proxy-Authorization')) {
      const retry = this.withCredentials(req, res, dialog, digest);
      if (retry) return this.runTransaction(retry, dest, on2xx, onProvisional);
    }
    return res;
  }

  private runTransaction(req: SipRequest, dest: Destination, on2xx?: (res: SipResponse) => void,
    onProvisional?: (res: SipResponse) => void): Promise<SipResponse> {
    return new Promise((resolve) => {
      const tx = this.startTransaction(req, dest);
      let done = false;
      const finish = (res: SipResponse): void => {
        if (!done) {
          done = true;
          resolve(res);
        }
      };
      tx.on('response', (res) => {
        if (res.status < 200) onProvisional?.(res);
        else {
          if (res.status < 300) on2xx?.(res);
          finish(res);
        }
      });
      tx.on('timeout', () => finish(SipResponse.forRequest(req, 408)));
      tx.on('transportError', () => finish(SipResponse.forRequest(req, 503, 'Transport Failure')));
    });
  }

  /** A copy of `req` carrying credentials for the challenge in `res`, with a new CSeq; undefined without credentials. */
  withCredentials(req: SipRequest, res: SipResponse, dialog?: Dialog, digest: DigestClient = this.digest): SipRequest | undefined {
    const header = res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    for (const value of res.getAll(header)) {
      let challenge;
      try {
        challenge = parseChallenge(value);
      } catch {
        continue;
      }
      const auth = digest.authorize(challenge, req.method, req.uri.toString());
      if (!auth) continue;
      const retry = req.clone();
      retry.remove('Via');
      const seq = dialog ? ++dialog.localSeq : req.cseq.seq + 1;
      retry.set('CSeq', `${seq} ${req.method}`);
      retry.set(res.status === 401 ? 'Authorization' : 'Proxy-Authorization', auth);
      return retry;
    }
    return undefined;
  }

  /** Sends an in-dialog request (§12.2.1). For INVITEs pass `on2xx` to acknowledge each 2xx. */
  requestInDialog(dialog: Dialog, req: SipRequest, on2xx?: (res: SipResponse) => void): Promise<SipResponse> {
    return this.requestFinal(req, undefined, dialog, on2xx);
  }

  /** Sends (or re-sends) the ACK for a 2xx to `invite` in `dialog` (§13.2.2.4); the ACK is built once. */
  ackFor(dialog: Dialog, invite: SipRequest, _res: SipResponse): void {
    const entry = this.acks.get(invite);
    if (entry) {
      this.transactions.sendAck(entry.ack, entry.dest);
      return;
    }
    const ack = dialog.createRequest('ACK', invite.cseq.seq);
    for (const h of ['Authorization', 'Proxy-Authorization']) {
      const v = invite.get(h);
      if (v !== undefined) ack.set(h, v);
    }
    this.destinationFor(ack, dialog).then((dest) => {
      const built = this.acks.get(invite);
      if (built) {
        this.transactions.sendAck(built.ack, built.dest);
        return;
      }
      ack.prepend('Via', this.transport.viaFor(dest.transport, newBranch()).toString());
      this.acks.set(invite, { ack, dest });
      this.transactions.sendAck(ack, dest);
    }, (err: Error) => this.logger.warn({ callId: dialog.callId, err: err.message }, 'cannot route ACK'));
  }

  /** Adds the headers every INVITE we send carries (Contact is set by the caller's dialog or transport). */
  decorateInvite(req: SipRequest, sdp: string | undefined, sessionExpiresSec?: number): void {
    req.set('Allow', this.allow);
    req.set('Supported', SUPPORTED_EXTENSIONS.join(', '));
    if (!req.has('Contact')) req.add('Contact', this.contactFor(this.kindForUri(req)));
    const se = sessionExpiresSec ?? this.sessionExpiresSec;
    if (se > 0) {
      req.set('Session-Expires', `${se}`);
      req.set('Min-SE', this.minSessionExpiresSec);
    }
    if (sdp !== undefined) {
      req.set('Content-Type', 'application/sdp');
      req.bodyText = sdp;
    }
  }

  private kindForUri(req: SipRequest): TransportKind {
    const route = req.getAll('Route')[0];
    const hop = route ? NameAddr.parse(route).uri : req.uri;
    return (hop.transport ?? (hop.scheme === 'sips' ? 'tls' : 'udp')) as TransportKind;
  }

  /** Fills the RFC 4028 headers of a 2xx answering `req`. */
  answerSessionTimer(req: SipRequest, res: SipResponse): void {
    const asked = req.get('Session-Expires');
    const peerSupports = req.optionTags('Supported').includes('timer') || req.optionTags('Require').includes('timer');
    if (asked !== undefined) {
      const m = /^\s*(\d+)\s*(?:;\s*refresher\s*=\s*(uac|uas))?/i.exec(asked);
      if (!m) return;
      const refresher = m[2]?.toLowerCase() ?? (peerSupports ? 'uac' : 'uas');
      // A UAS may shorten the interval, never below Min-SE (RFC 4028 §9).
      const seconds = clampSeconds(Number(m[1]), this.minSessionExpiresSec, MAX_SESSION_EXPIRES_SEC);
      res.set('Session-Expires', `${seconds};refresher=${refresher}`);
      if (peerSupports) res.set('Require', 'timer');
    } else if (this.sessionExpiresSec > 0 && peerSupports) {
      res.set('Session-Expires', `${this.sessionExpiresSec};refresher=uac`);
      res.set('Require', 'timer');
    }
  }

  /** Adds Allow/Accept/Supported to a response describing what we can do. */
  describeCapabilities(res: SipResponse): void {
    res.set('Allow', this.allow);
    res.set('Accept', 'application/sdp, application/dtmf-relay, message/sipfrag');
    res.set('Supported', SUPPORTED_EXTENSIONS.join(', '));
  }

  /**
   * Sends a response through its server transaction, adding the Server header; `retransmit` false sends
   * an INVITE's final error once (see InviteServerTransaction.respond).
   */
  respond(tx: ServerTransaction, res: SipResponse, retransmit = true): void {
    if (!res.has('Server')) res.add('Server', this.productName);
    if (tx instanceof InviteServerTransaction) tx.respond(res, retransmit);
    else tx.respond(res);
  }

  /** True when the transaction runs over a reliable transport. */
  isReliable(tx: ServerTransaction): boolean {
    return (tx as unknown as { channel: { reliable: boolean } }).channel.reliable;
  }

  /** Records that `dialog` belongs to `call` so in-dialog requests find it. */
  bindDialog(dialog: Dialog, call: Call): void {
    this.dialogs.set(dialog.id, call);
    this.calls.add(call);
  }

  /** Tracks a call before it has a dialog. */
  trackCall(call: Call, inviteTx?: InviteServerTransaction): void {
    this.calls.add(call);
    if (inviteTx && call instanceof IncomingCall) this.byInviteTx.set(inviteTx, call);
  }

  /** Forgets a finished call; its dialogs linger briefly to absorb late retransmissions. */
  releaseCall(call: Call): void {
    this.calls.delete(call);
    for (const [tx, c] of this.byInviteTx) if (c === call) this.byInviteTx.delete(tx);
    const ids = call.dialogs().map((d) => d.id);
    const t = setTimeout(() => {
      for (const id of ids) if (this.dialogs.get(id) === call) this.dialogs.delete(id);
    }, 64 * this.timers.t1Ms);
    t.unref();
  }

  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: MessageSource): void {
    const toTag = (() => {
      try {
        return req.to.tag;
      } catch {
        return undefined;
      }
    })();
    if (!tx) {
      // an ACK outside any transaction acknowledges a 2xx (§13.3.1.4)
      const call = toTag ? this.dialogs.get(Dialog.key(req.callId, toTag, req.from.tag ?? '')) : undefined;
      call?.receiveAck(req);
      return;
    }
    const reply = (status: number, reason?: string, build?: (res: SipResponse) => void): void => {
      const res = SipResponse.forRequest(req, status, reason, toTag ? undefined : randomToken(6));
      build?.(res);
      this.respond(tx, res);
    };
    if (req.get('Max-Forwards') === '0' && req.method !== 'OPTIONS') {
      reply(483);
      return;
    }
    if (!['sip', 'sips', 'tel'].includes(req.uri.scheme)) {
      reply(416);
      return;
    }
    const unsupported = req.optionTags('Require').filter((t) => !SUPPORTED_EXTENSIONS.includes(t));
    if (unsupported.length > 0 && req.method !== 'CANCEL') {
      reply(420, undefined, (r) => r.set('Unsupported', unsupported.join(', ')));
      return;
    }
    if (toTag) {
      const call = this.dialogs.get(Dialog.key(req.callId, toTag, req.from.tag ?? ''));
      const dialog = call?.dialogs().find((d) => d.localTag === toTag && d.remoteTag === (req.from.tag ?? ''));
      if (!call || !dialog) {
        reply(481);
        return;
      }
      call.handleRequest(req, tx, dialog);
      return;
    }
    switch (req.method) {
      case 'INVITE':
        this.onNewInvite(req, tx as InviteServerTransaction, source);
        return;
      case 'OPTIONS':
        reply(200, undefined, (r) => this.describeCapabilities(r));
        return;
      case 'REGISTER':
        if (!this.registrar) {
          reply(405, undefined, (r) => r.set('Allow', this.allow.replace(', REGISTER', '')));
          return;
        }
        this.respond(tx, this.registrar.handle(req, source));
        return;
      case 'BYE':
      case 'PRACK':
      case 'UPDATE':
        reply(481);
        return;
      default: {
        let answered = false;
        const respond = (status: number, reason?: string): void => {
          if (answered) return;
          answered = true;
          reply(status, reason);
        };
        this.safeEmit('request', req, source, respond);
        if (this.listenerCount('request') === 0) respond(405);
      }
    }
  }

  private onNewInvite(req: SipRequest, tx: InviteServerTransaction, source: MessageSource): void {
    const se = req.get('Session-Expires');
    if (se !== undefined) {
      const secs = Number(/^\s*(\d+)/.exec(se)?.[1] ?? NaN);
      if (!Number.isFinite(secs)) {
        this.respond(tx, SipResponse.forRequest(req, 400, 'Bad Session-Expires'));
        return;
      }
      if (secs < this.minSessionExpiresSec) {
        const res = SipResponse.forRequest(req, 422);
        res.set('Min-SE', this.minSessionExpiresSec);
        this.respond(tx, res);
        return;
      }
    }
    const call = new IncomingCall(this, req, tx, source);
    this.trackCall(call, tx);
    const handler = this.inviteHandler;
    if (!handler) {
      call.reject(404);
      return;
    }
    try {
      handler(call);
    } catch (err) {
      this.logger.error({ callId: req.callId, err }, 'invite handler threw');
      if (call.state === 'calling' || call.state === 'early') call.reject(500);
    }
  }

  private onStrayResponse(res: SipResponse): void {
    // a 2xx retransmission after the INVITE transaction ended: re-send the ACK (§13.2.2.4)
    if (res.cseq.method !== 'INVITE' || res.status < 200 || res.status >= 300) return;
    const call = this.dialogs.get(Dialog.key(res.callId, res.from.tag ?? '', res.to.tag ?? ''));
    if (call instanceof OutgoingCall) call.onStray2xx(res);
  }

  /** Ends every call (BYE or CANCEL) and rejects new ones. */
  async shutdown(): Promise<void> {
    this.inviteHandler = undefined;
    await Promise.all([...this.calls].map((c) => c.terminate().catch(() => undefined)));
  }
}
