import { Call } from './Call.js';
import { DigestClient } from './DigestAuth.js';
import type { InviteOptions } from './CallTypes.js';
import { Dialog } from './Dialog.js';
import { NameAddr } from './NameAddr.js';
import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import type { SipUri } from './SipUri.js';
import type { ClientTransaction } from './TransactionLayer.js';
import type { Destination } from './TransportTypes.js';
import type { UserAgent } from './UserAgent.js';

/** Why an INVITE could not leave, as the failure's reason: a name that does not resolve, or the socket's error. */
function unsentReason(err: Error): string {
  const { code, hostname } = err as NodeJS.ErrnoException & { hostname?: string };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'ENODATA') return `dns: ${hostname ?? 'the host'} not found (${code})`;
  return `cannot send: ${err.message}`;
}

/** A call we place (UAC side of INVITE, RFC 3261 §13.2), including forked early dialogs and 100rel. */
export class OutgoingCall extends Call {
  readonly invite: SipRequest;
  private readonly early = new Map<string, Dialog>();
  private tx: ClientTransaction | undefined;
  private dest: Destination | undefined;
  private provisionalSeen = false;
  private cancelRequested = false;
  private authRetried = false;
  private readonly prackedRseq = new Map<string, number>();
  private noAnswerTimer: NodeJS.Timeout | undefined;
  private cancelSent = false;
  /** The Reason header (RFC 3326) of our CANCEL, when the caller gave one. */
  private cancelReason: string | undefined;
  /** This call's own credentials (a trunk's), when given. */
  private readonly digest: DigestClient | undefined;

  constructor(ua: UserAgent, target: SipUri, sdp: string, private readonly opts: InviteOptions) {
    const invite = ua.buildRequest('INVITE', target, {
      ...(opts.from ? { from: opts.from } : {}), ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.maxForwards !== undefined ? { maxForwards: opts.maxForwards } : {}),
    });
    super(ua, invite.callId);
    this.digest = opts.credentials ? new DigestClient(opts.credentials) : undefined;
    if (opts.displayName !== undefined) {
      const from = invite.from;
      from.displayName = opts.displayName;
      invite.set('From', from.toString());
    }
    ua.decorateInvite(invite, sdp, opts.sessionExpiresSec);
    this.invite = invite;
    this.localSdp = sdp;
    ua.trackCall(this);
  }

  override dialogs(): Dialog[] {
    return this.dialog ? [this.dialog, ...[...this.early.values()].filter((d) => d !== this.dialog)] : [...this.early.values()];
  }

  /** Sends the INVITE. Called by the UA right after construction. */
  start(): void {
    this.log.info({ to: this.invite.uri.toString() }, 'placing call');
    this.send(this.invite).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'INVITE could not be sent');
      this.fail(503, unsentReason(err));
    });
    if (this.opts.noAnswerTimeoutMs) {
      this.noAnswerTimer = setTimeout(() => { void this.cancel(); }, this.opts.noAnswerTimeoutMs);
      this.noAnswerTimer.unref();
    }
  }

  private async send(invite: SipRequest): Promise<void> {
    this.dest = await this.ua.destinationFor(invite, undefined, this.opts.destination);
    if (this.state === 'ended') return;
    const tx = this.ua.startTransaction(invite, this.dest);
    this.tx = tx;
    tx.on('response', (res) => this.onResponse(invite, res));
    tx.on('timeout', () => this.fail(408, 'Request Timeout'));
    tx.on('transportError', () => this.fail(503, 'Transport Failure'));
  }

  /**
   * A dialog of this call. Called over a given flow (a client registered over WebSocket or TCP), its
   * in-dialog requests (ACK, BYE, re-INVITE) keep to that flow: the client's Contact is not routable.
   */
  private newDialog(invite: SipRequest, res: SipResponse): Dialog {
    const dialog = Dialog.asUac(invite, res);
    const forced = this.opts.destination;
    if (forced?.flowId) dialog.flow = { transport: forced.transport, address: forced.address, port: forced.port, flowId: forced.flowId };
    return dialog;
  }

  private onResponse(invite: SipRequest, res: SipResponse): void {
    const status = res.status;
    if (status < 200) {
      this.onProvisional(invite, res);
      return;
    }
    if (status < 300) {
      this.on2xx(invite, res);
      return;
    }
    if ((status === 401 || status === 407) && !this.authRetried && this.state !== 'ended') {
      const retry = this.ua.withCredentials(invite, res, undefined, this.digest);
      if (retry) {
        this.authRetried = true;
        this.log.debug({ status }, 'retrying INVITE with credentials');
        this.send(retry).catch(() => this.fail(503, 'Service Unavailable'));
        return;
      }
    }
    this.fail(status, res.reason);
  }

  private onProvisional(invite: SipRequest, res: SipResponse): void {
    if (this.state === 'ended' || this.state === 'confirmed') return;
    this.provisionalSeen = true;
    const tag = res.to.tag;
    let dialog: Dialog | undefined;
    if (tag && res.status > 100) {
      dialog = this.early.get(tag);
      if (!dialog) {
        dialog = this.newDialog(invite, res);
        this.early.set(tag, dialog);
        this.ua.bindDialog(dialog, this);
      }
      this.state = 'early';
    }
    if (this.cancelRequested) {
      void this.sendCancel();
      return;
    }
    // RFC 3262: a reliable provisional is acknowledged with PRACK, once per RSeq
    const rseq = Number(res.get('RSeq'));
    if (dialog && res.optionTags('Require').includes('100rel') && Number.isInteger(rseq)) {
      const last = this.prackedRseq.get(dialog.remoteTag);
      if (last !== undefined && rseq <= last) return;
      this.prackedRseq.set(dialog.remoteTag, rseq);
      const prack = dialog.createRequest('PRACK');
      prack.set('RAck', `${rseq} ${invite.cseq.seq} INVITE`);
      this.ua.requestInDialog(dialog, prack).catch(() => undefined);
    }
    this.safeEmit('provisional', res.status, res.reason);
    if (res.body.length > 0 && res.contentType === 'application/sdp') {
      this.remoteSdp = res.bodyText;
      this.safeEmit('earlyMedia', res.bodyText);
    }
  }

  private on2xx(invite: SipRequest, res: SipResponse): void {
    const tag = res.to.tag ?? '';
    if (this.dialog && this.dialog.remoteTag === tag) {
      this.ua.ackFor(this.dialog, invite, res);
      return;
    }
    let dialog = this.early.get(tag);
    if (dialog) dialog.confirm(res);
    else {
      dialog = this.newDialog(invite, res);
      this.early.set(tag, dialog);
      this.ua.bindDialog(dialog, this);
    }
    if (this.dialog || this.state === 'ended') {
      // a second fork answered (§13.2.2.4): acknowledge it and hang it up
      const extra = dialog;
      this.ua.ackFor(extra, invite, res);
      extra.confirm(res);
      this.ua.requestInDialog(extra, extra.createRequest('BYE')).catch(() => undefined);
      extra.terminate();
      return;
    }
    this.dialog = dialog;
    if (this.noAnswerTimer) clearTimeout(this.noAnswerTimer);
    for (const d of this.early.values()) if (d !== dialog) d.terminate();
    this.ua.ackFor(dialog, invite, res);
    this.state = 'confirmed';
    this.remoteSdp = res.body.length > 0 ? res.bodyText : this.remoteSdp;
    this.applySessionTimer(res, true);
    this.log.debug({ status: res.status }, 'call answered');
    this.safeEmit('answered', this.remoteSdp ?? '');
  }

  /** A 2xx retransmission that arrived after the INVITE transaction ended. */
  onStray2xx(res: SipResponse): void {
    const tag = res.to.tag ?? '';
    const d = this.dialog?.remoteTag === tag ? this.dialog : this.early.get(tag);
    if (d) this.ua.ackFor(d, this.invite, res);
  }

  private fail(status: number, reason: string): void {
    if (this.state === 'ended' || this.state === 'confirmed') return;
    if (this.noAnswerTimer) clearTimeout(this.noAnswerTimer);
    this.log.debug({ status, reason }, 'call failed');
    this.end(status === 487 ? 'cancelled' : 'failed');
    this.safeEmit('failed', status, reason);
  }

  /**
   * Abandons a call that is not answered yet (CANCEL, §9.1); no effect once answered. `reason`: the CANCEL's
   * Reason header (RFC 3326), such as `SIP;cause=200;text="Call completed elsewhere"` for a fork that lost.
   */
  async cancel(reason?: string): Promise<void> {
    if (this.state === 'ended' || this.state === 'confirmed') return;
    this.cancelRequested = true;
    if (reason !== undefined) this.cancelReason ??= reason;
    // §9.1: CANCEL only after a provisional response, else it may overtake the INVITE
    if (this.provisionalSeen) await this.sendCancel();
  }

  private async sendCancel(): Promise<void> {
    const tx = this.tx;
    if (this.cancelSent || !tx || !this.dest) return;
    this.cancelSent = true;
    const inv = tx.request;
    const cancel = this.ua.buildRequest('CANCEL', inv.uri.clone(), { callId: inv.callId });
    cancel.set('From', inv.get('From') as string);
    cancel.set('To', inv.get('To') as string);
    cancel.set('CSeq', `${inv.cseq.seq} CANCEL`);
    for (const r of inv.getAll('Route')) cancel.add('Route', r);
    cancel.add('Via', inv.getAll('Via')[0] as string);
    if (this.cancelReason) cancel.set('Reason', this.cancelReason);
    const ctx = this.ua.transactions.sendRequest(cancel, this.dest);
    ctx.on('timeout', () => this.fail(408, 'Request Timeout'));
  }

  /** Ends the call whatever its state: CANCEL before the answer, BYE after. */
  async terminate(): Promise<void> {
    if (this.state === 'confirmed') await this.bye();
    else await this.cancel();
  }

  /** The remote party's URI (To). */
  get remoteIdentity(): NameAddr {
    return NameAddr.parse(this.invite.get('To') as string);
  }
}
