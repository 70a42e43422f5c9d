import { Call } from './Call.js';
import { Dialog } from './Dialog.js';
import type { InviteServerTransaction } from './InviteServerTransaction.js';
import type { NameAddr } from './NameAddr.js';
import { randomToken } from './SipRandom.js';
import type { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import type { MessageSource } from './TransportTypes.js';
import type { UserAgent } from './UserAgent.js';

/** Options of a provisional response. */
export interface ProgressOptions {
  /** Send it reliably (RFC 3262) when the caller supports 100rel. */
  reliable?: boolean;
}

/** A call we receive (UAS side of INVITE, RFC 3261 §13.3). */
export class IncomingCall extends Call {
  private readonly localTag = randomToken(6);
  private answer2xx: SipResponse | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private rseq = Math.floor(Math.random() * 1000) + 1;
  private unacked: { rseq: number; res: SipResponse; timer?: NodeJS.Timeout } | undefined;

  constructor(ua: UserAgent, readonly invite: SipRequest, private readonly tx: InviteServerTransaction, readonly source: MessageSource) {
    super(ua, invite.callId);
    this.remoteSdp = invite.body.length > 0 ? invite.bodyText : undefined;
    this.log.info({ from: invite.get('From'), uri: invite.uri.toString() }, 'incoming call');
  }

  /** The caller (From). */
  get remoteIdentity(): NameAddr {
    return this.invite.from;
  }

  /** The offer in the INVITE, if any. */
  get offer(): string | undefined {
    return this.remoteSdp;
  }

  override dialogs(): Dialog[] {
    return this.dialog ? [this.dialog] : [];
  }

  private ensureDialog(): Dialog {
    if (!this.dialog) {
      this.dialog = Dialog.asUas(this.invite, this.localTag, this.source);
      this.ua.bindDialog(this.dialog, this);
    }
    return this.dialog;
  }

  private respondable(): boolean {
    return (this.state === 'calling' || this.state === 'early') && this.tx.state === 'proceeding';
  }

  private provisional(status: number, sdp: string | undefined, opts: ProgressOptions): void {
    if (!this.respondable()) return;
    const dialog = this.ensureDialog();
    const res = SipResponse.forRequest(this.invite, status, undefined, this.localTag);
    res.add('Contact', this.ua.contactFor(dialog));
    const reliable = opts.reliable === true && (this.invite.optionTags('Supported').includes('100rel')
      || this.invite.optionTags('Require').includes('100rel'));
    if (sdp !== undefined) {
      res.set('Content-Type', 'application/sdp');
      res.bodyText = sdp;
      this.localSdp = sdp;
    }
    if (reliable) {
      if (this.unacked) return; // §3: one unacknowledged reliable provisional at a time
      res.set('Require', '100rel');
      res.set('RSeq', ++this.rseq);
      this.unacked = { rseq: this.rseq, res };
      this.retransmitReliable(res, this.ua.timers.t1Ms, 0);
    }
    this.state = 'early';
    this.ua.respond(this.tx, res);
    this.safeEmit('provisional', status, res.reason);
  }

  private retransmitReliable(res: SipResponse, interval: number, elapsed: number): void {
    const u = this.unacked;
    if (!u || u.res !== res) return;
    if (elapsed >= 64 * this.ua.timers.t1Ms) {
      // RFC 3262 §3: no PRACK in time is treated as a failed call
      this.unacked = undefined;
      this.reject(504);
      return;
    }
    u.timer = setTimeout(() => {
      if (this.unacked?.res !== res || !this.respondable()) return;
      this.ua.respond(this.tx, res);
      this.retransmitReliable(res, Math.min(interval * 2, this.ua.timers.t2Ms), elapsed + interval);
    }, interval);
    u.timer.unref();
  }

  protected override onPrack(req: SipRequest): void {
    const m = /^(\d+)\s+(\d+)\s+INVITE/i.exec(req.get('RAck') ?? '');
    if (m && this.unacked && Number(m[1]) === this.unacked.rseq) {
      if (this.unacked.timer) clearTimeout(this.unacked.timer);
      this.unacked = undefined;
    }
  }

  /**
   * Sends 100 Trying now, once the INVITE is taken for processing, instead of after the transaction's 200 ms
   * (RFC 3261 §17.2.1): a caller whose Timer A is shorter does not retransmit while the call is set up.
   */
  trying(): void {
    if (this.state !== 'calling' || this.tx.state !== 'proceeding' || this.tx.responded) return;
    this.ua.respond(this.tx, SipResponse.forRequest(this.invite, 100));
  }

  /** Sends 180 Ringing. */
  ring(opts: ProgressOptions = {}): void {
    this.provisional(180, undefined, opts);
  }

  /** Sends 183 Session Progress with early media SDP. */
  progress(sdp: string, opts: ProgressOptions = {}): void {
    this.provisional(183, sdp, opts);
  }

  /** Accepts the call with a 200 carrying `sdp`; the 2xx is retransmitted until the ACK arrives. */
  answer(sdp: string): void {
    if (!this.respondable()) return;
    const dialog = this.ensureDialog();
    const res = SipResponse.forRequest(this.invite, 200, undefined, this.localTag);
    res.add('Contact', this.ua.contactFor(dialog));
    this.ua.describeCapabilities(res);
    this.ua.answerSessionTimer(this.invite, res);
    res.set('Content-Type', 'application/sdp');
    res.bodyText = sdp;
    this.localSdp = sdp;
    this.answer2xx = res;
    if (this.unacked?.timer) clearTimeout(this.unacked.timer);
    this.unacked = undefined;
    dialog.confirm();
    this.state = 'confirmed';
    this.ua.respond(this.tx, res);
    this.applySessionTimer(res, false);
    this.retransmit2xx(this.tx, res, () => this.answer2xx === res, (t) => { this.ackTimer = t; }, () => { this.answer2xx = undefined; });
    this.log.debug('call answered');
    this.safeEmit('answered', sdp);
  }

  /** Rejects the call with a final non-2xx status; `headers` go on the response (e.g. a 407 challenge). */
  reject(status = 486, reason?: string, headers: Record<string, string | string[]> = {}): void {
    if (!this.respondable() || status < 300) return;
    const res = SipResponse.forRequest(this.invite, status, reason, this.localTag);
    for (const [name, value] of Object.entries(headers)) {
      for (const item of Array.isArray(value) ? value : [value]) res.add(name, item);
    }
    // Refused before any ringing (unknown caller, challenge, no route): answered once, never retransmitted.
    this.ua.respond(this.tx, res, this.state !== 'calling');
    this.log.debug({ status }, 'call rejected');
    this.end('rejected');
  }

  /** The caller sent CANCEL: answer the INVITE 487 (the CANCEL itself was answered 200 already). */
  onCancel(_cancel: SipRequest): void {
    if (!this.respondable()) return;
    this.ua.respond(this.tx, SipResponse.forRequest(this.invite, 487, undefined, this.localTag));
    this.end('cancelled');
    this.safeEmit('failed', 487, 'Request Terminated');
  }

  override receiveAck(req: SipRequest): void {
    if (this.answer2xx && req.cseq.seq === this.invite.cseq.seq) {
      this.answer2xx = undefined;
      if (this.ackTimer) clearTimeout(this.ackTimer);
      if (req.body.length > 0) this.setRemoteSdp(req.bodyText);
      this.safeEmit('confirmed');
      return;
    }
    super.receiveAck(req);
  }

  protected override end(reason: Parameters<Call['end']>[0]): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.unacked?.timer) clearTimeout(this.unacked.timer);
    super.end(reason);
  }

  /** Ends the call whatever its state: BYE once answered, before that `rejectStatus` (480 unless told). */
  async terminate(rejectStatus = 480): Promise<void> {
    if (this.state === 'confirmed') await this.bye();
    else this.reject(rejectStatus);
  }
}
