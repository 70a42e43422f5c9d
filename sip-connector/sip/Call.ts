import type { SipLogger } from './Logger.js';
import type { Dialog } from './Dialog.js';
import type { InviteServerTransaction } from './InviteServerTransaction.js';
import type { ServerTransaction } from './TransactionLayer.js';
import type { SipRequest } from './SipRequest.js';
import { SipResponse, warningValue } from './SipResponse.js';
import { TypedEmitter } from './TypedEmitter.js';
import type { CallEndReason, CallEvents, CallState, OfferResult } from './CallTypes.js';
import type { UserAgent } from './UserAgent.js';
import { clampSeconds, MAX_SESSION_EXPIRES_SEC, timerDelayMs } from './PeerSeconds.js';

const DTMF_RE = /^[0-9*#A-D]$/i;

/** Behaviour shared by incoming and outgoing calls once a dialog exists: in-dialog requests both ways. */
export abstract class Call extends TypedEmitter<CallEvents> {
  state: CallState = 'calling';
  dialog: Dialog | undefined;
  localSdp: string | undefined;
  remoteSdp: string | undefined;
  /**
   * Computes the answer to an in-dialog offer (undefined: 488); by default the current local SDP is
   * offered back. It may take its time (a B2BUA asks the other leg first): the re-INVITE is answered then.
   */
  offerHandler: (remoteSdp: string) => string | undefined | Promise<string | undefined> = () => this.localSdp;
  /**
   * Whether the application acts on a REFER in this call (RFC 3515): accepted with 202 and told as `refer`.
   * Otherwise a REFER is refused with 501 and a Warning: never a 202 followed by nothing.
   */
  acceptsRefer = false;
  /** An in-dialog offer is being answered asynchronously: a second one meanwhile is glare. */
  private answeringOffer = false;
  protected readonly log: SipLogger;
  private pendingReinvite = false;
  private incomingReinvite: { tx: InviteServerTransaction; res: SipResponse; timer?: NodeJS.Timeout } | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  protected sessionExpires: { seconds: number; weRefresh: boolean } | undefined;

  constructor(protected readonly ua: UserAgent, readonly callId: string) {
    super();
    this.log = ua.logger.child({ callId });
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.log.error({ err: error, event }, 'call event listener threw');
  }

  /** Hangs up an established call with BYE. */
  async bye(): Promise<void> {
    const dialog = this.dialog;
    if (!dialog || this.state === 'ended') return;
    this.end('local-bye');
    const res = await this.ua.requestInDialog(dialog, dialog.createRequest('BYE'));
    this.log.debug({ status: res.status }, 'BYE answered');
  }

  /** Sends a re-INVITE with `sdp` (default: the current local SDP); on 491 retries once after the RFC 3261 §14.1 wait. */
  async reinvite(sdp = this.localSdp, retry = true): Promise<OfferResult> {
    const dialog = this.requireDialog();
    if (this.pendingReinvite || this.incomingReinvite) return { status: 491 };
    this.pendingReinvite = true;
    let result: OfferResult;
    try {
      const req = dialog.createRequest('INVITE');
      this.ua.decorateInvite(req, sdp, this.sessionExpires?.seconds);
      const res = await this.ua.requestInDialog(dialog, req, (ok) => this.ua.ackFor(dialog, req, ok));
      result = { status: res.status, response: res, ...(res.body.length > 0 ? { sdp: res.bodyText } : {}) };
      if (res.status >= 200 && res.status < 300) {
        if (sdp !== undefined) this.localSdp = sdp;
        if (res.body.length > 0) this.setRemoteSdp(res.bodyText);
        this.applySessionTimer(res, true);
      }
    } finally {
      this.pendingReinvite = false;
    }
    if (result.status === 491 && retry) {
      // the Call-ID owner waits 2.1-4 s, the other side 0-2 s, so the two retries do not collide again
      const wait = dialog.isUac ? 2100 + Math.random() * 1900 : Math.random() * 2000;
      await new Promise((r) => setTimeout(r, wait));
      return this.reinvite(sdp, false);
    }
    if (result.status === 408 || result.status === 481) this.terminateAfterFailure();
    return result;
  }

  /** Sends UPDATE (RFC 3311), with an offer when `sdp` is given. */
  async update(sdp?: string): Promise<OfferResult> {
    const dialog = this.requireDialog();
    const req = dialog.createRequest('UPDATE');
    req.add('Contact', this.ua.contactFor(dialog));
    if (sdp !== undefined) {
      req.set('Content-Type', 'application/sdp');
      req.bodyText = sdp;
    }
    if (this.sessionExpires) req.set('Session-Expires', `${this.sessionExpires.seconds};refresher=${this.refresherRole()}`);
    const res = await this.ua.requestInDialog(dialog, req);
    if (res.status >= 200 && res.status < 300) {
      if (sdp !== undefined) this.localSdp = sdp;
      if (res.body.length > 0) this.setRemoteSdp(res.bodyText);
      this.applySessionTimer(res, true);
    }
    return { status: res.status, response: res, ...(res.body.length > 0 ? { sdp: res.bodyText } : {}) };
  }

  /** Sends one DTMF digit as INFO application/dtmf-relay; resolves with the response status. */
  async sendDtmfInfo(digit: string, durationMs = 160): Promise<number> {
    if (!DTMF_RE.test(digit)) throw new RangeError(`not a DTMF digit: ${digit}`);
    const res = await this.sendInfo('application/dtmf-relay', `Signal=${digit.toUpperCase()}\r\nDuration=${durationMs}\r\n`);
    return res.status;
  }

  /** Sends INFO with an arbitrary body. */
  async sendInfo(contentType: string, body: string): Promise<SipResponse> {
    const dialog = this.requireDialog();
    const req = dialog.createRequest('INFO');
    req.set('Content-Type', contentType);
    req.bodyText = body;
    return this.ua.requestInDialog(dialog, req);
  }

  /** Asks the peer to call `target` (RFC 3515); resolves with the REFER's final status. */
  async refer(target: string): Promise<number> {
    const dialog = this.requireDialog();
    const req = dialog.createRequest('REFER');
    req.set('Refer-To', target.startsWith('<') ? target : `<${target}>`);
    req.set('Referred-By', dialog.localUri.toString());
    req.add('Contact', this.ua.contactFor(dialog));
    const res = await this.ua.requestInDialog(dialog, req);
    return res.status;
  }

  /**
   * Sends an in-dialog NOTIFY with a message/sipfrag body, e.g. REFER progress (RFC 3515 §2.4.5). With the
   * REFER's CSeq number the Event names its subscription (`id`, §2.4.6), which a dialog that saw several
   * REFERs needs.
   */
  async notifyReferProgress(statusLine: string, terminated: boolean, referCseq?: number): Promise<number> {
    const dialog = this.requireDialog();
    const req = dialog.createRequest('NOTIFY');
    req.set('Event', referCseq === undefined ? 'refer' : `refer;id=${referCseq}`);
    req.set('Subscription-State', terminated ? 'terminated;reason=noresource' : 'active;expires=60');
    req.set('Content-Type', 'message/sipfrag;version=2.0');
    req.add('Contact', this.ua.contactFor(dialog));
    req.bodyText = `${statusLine}\r\n`;
    return (await this.ua.requestInDialog(dialog, req)).status;
  }

  /** Sends in-dialog OPTIONS, a cheap liveness probe. */
  async options(): Promise<number> {
    const dialog = this.requireDialog();
    return (await this.ua.requestInDialog(dialog, dialog.createRequest('OPTIONS'))).status;
  }

  protected requireDialog(): Dialog {
    if (!this.dialog || this.state === 'ended' || this.dialog.state === 'terminated') throw new Error('call has no active dialog');
    return this.dialog;
  }

  protected setRemoteSdp(sdp: string): void {
    const changed = sdp !== this.remoteSdp;
    this.remoteSdp = sdp;
    if (changed && this.state === 'confirmed') this.safeEmit('remoteSdp', sdp);
  }

  /** Handles a request inside one of this call's dialogs. */
  handleRequest(req: SipRequest, tx: ServerTransaction, dialog: Dialog): void {
    const respond = (status: number, build?: (res: SipResponse) => void): SipResponse => {
      const res = SipResponse.forRequest(req, status);
      build?.(res);
      this.ua.respond(tx, res);
      return res;
    };
    if (!dialog.receiveRequest(req)) {
      respond(500, (r) => r.set('Retry-After', Math.floor(Math.random() * 10)));
      return;
    }
    switch (req.method) {
      case 'BYE':
        respond(200);
        this.end('remote-bye');
        return;
      case 'INVITE':
        this.onReinvite(req, tx as InviteServerTransaction, dialog);
        return;
      case 'UPDATE': {
        const finish = (answer: string | undefined) => {
          const res = respond(200, (r) => {
            r.add('Contact', this.ua.contactFor(dialog));
            this.ua.answerSessionTimer(req, r);
            if (answer !== undefined) {
              r.set('Content-Type', 'application/sdp');
              r.bodyText = answer;
            }
          });
          this.applySessionTimer(res, false);
        };
        if (req.body.length === 0) {
          finish(undefined);
          return;
        }
        this.setRemoteSdp(req.bodyText);
        const handled = this.offerHandler(req.bodyText);
        // An answer that needs the other leg first (a B2BUA) comes later: the UPDATE's transaction absorbs
        // the caller's retransmissions meanwhile and is answered once it is known.
        void Promise.resolve(handled).catch(() => undefined).then((answer) => {
          if (this.state === 'ended') return;
          if (answer === undefined) {
            respond(488, (r) => r.set('Warning', warningValue('the offer cannot be taken')));
            return;
          }
          this.localSdp = answer;
          finish(answer);
        });
        return;
      }
      case 'INFO':
        respond(200);
        this.onInfo(req);
        return;
      case 'REFER': {
        const referTo = req.get('Refer-To');
        if (!referTo) {
          respond(400, (r) => r.warn('REFER without Refer-To'));
          return;
        }
        if (!this.acceptsRefer) {
          respond(501, (r) => r.warn('this call cannot be transferred'));
          return;
        }
        respond(202, (r) => r.add('Contact', this.ua.contactFor(dialog)));
        this.safeEmit('refer', referTo, req);
        return;
      }
      case 'NOTIFY':
        respond(200);
        this.safeEmit('notify', req.get('Event'), req.bodyText);
        return;
      case 'OPTIONS':
        respond(200, (r) => this.ua.describeCapabilities(r));
        return;
      case 'PRACK':
        respond(200);
        this.onPrack(req);
        return;
      default:
        respond(405, (r) => r.set('Allow', this.ua.allow));
    }
  }

  protected onPrack(_req: SipRequest): void {
    // only incoming calls send reliable provisionals
  }

  private onInfo(req: SipRequest): void {
    const type = req.contentType;
    const body = req.bodyText;
    if (type === 'application/dtmf-relay' || type === 'application/dtmf') {
      const signal = /signal\s*=\s*([0-9*#A-D])/i.exec(body)?.[1] ?? (type === 'application/dtmf' ? body.trim()[0] : undefined);
      const duration = Number(/duration\s*=\s*(\d+)/i.exec(body)?.[1] ?? 160);
      if (signal) {
        this.safeEmit('dtmf', signal.toUpperCase(), duration);
        return;
      }
    }
    this.safeEmit('info', type, body);
  }

  private onReinvite(req: SipRequest, tx: InviteServerTransaction, dialog: Dialog): void {
    // glare: both sides sent an offer at once (RFC 3261 §14.2)
    if (this.pendingReinvite) {
      this.ua.respond(tx, SipResponse.forRequest(req, 491));
      return;
    }
    if (this.incomingReinvite || this.answeringOffer) {
      const res = SipResponse.forRequest(req, 500);
      res.set('Retry-After', Math.floor(Math.random() * 10));
      this.ua.respond(tx, res);
      return;
    }
    if (req.body.length === 0) {
      this.answerReinvite(req, tx, dialog, this.localSdp);
      return;
    }
    this.setRemoteSdp(req.bodyText);
    let answer: string | undefined | Promise<string | undefined>;
    try {
      answer = this.offerHandler(req.bodyText);
    } catch {
      answer = undefined;
    }
    if (!(answer instanceof Promise)) {
      this.answerReinvite(req, tx, dialog, answer, true);
      return;
    }
    this.answeringOffer = true;
    answer.then((sdp) => sdp, () => undefined).then((sdp) => {
      this.answeringOffer = false;
      if (this.state !== 'ended') this.answerReinvite(req, tx, dialog, sdp, true);
    });
  }

  /** Answers a re-INVITE with `answer` (488 when an offer got none) and retransmits the 2xx until the ACK. */
  private answerReinvite(req: SipRequest, tx: InviteServerTransaction, dialog: Dialog, answer: string | undefined, hadOffer = false): void {
    if (hadOffer && answer === undefined) {
      this.ua.respond(tx, SipResponse.forRequest(req, 488));
      return;
    }
    if (hadOffer) this.localSdp = answer;
    const res = SipResponse.forRequest(req, 200);
    res.add('Contact', this.ua.contactFor(dialog));
    this.ua.answerSessionTimer(req, res);
    res.set('Content-Type', 'application/sdp');
    res.bodyText = answer ?? '';
    this.ua.respond(tx, res);
    this.applySessionTimer(res, false);
    this.incomingReinvite = { tx, res };
    this.retransmit2xx(tx, res, () => this.incomingReinvite?.res === res, (timer) => {
      if (this.incomingReinvite?.res === res) this.incomingReinvite.timer = timer;
    }, () => {
      if (this.incomingReinvite?.res === res) this.incomingReinvite = undefined;
    });
  }

  /**
   * RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx until the ACK arrives; without an ACK after 64*T1
   * the dialog is ended with BYE.
   */
  protected retransmit2xx(tx: InviteServerTransaction, res: SipResponse, pending: () => boolean,
    setTimer: (t: NodeJS.Timeout) => void, onGiveUp: () => void): void {
    const { t1Ms, t2Ms } = this.ua.timers;
    if (this.ua.isReliable(tx)) {
      const t = setTimeout(() => {
        if (pending()) {
          onGiveUp();
          this.onNoAck();
        }
      }, 64 * t1Ms);
      t.unref();
      setTimer(t);
      return;
    }
    let interval = t1Ms;
    let elapsed = 0;
    const tick = (): void => {
      if (!pending()) return;
      elapsed += interval;
      if (elapsed >= 64 * t1Ms) {
        onGiveUp();
        this.onNoAck();
        return;
      }
      tx.respond(res);
      interval = Math.min(interval * 2, t2Ms);
      const t = setTimeout(tick, interval);
      t.unref();
      setTimer(t);
    };
    const t = setTimeout(tick, interval);
    t.unref();
    setTimer(t);
  }

  protected onNoAck(): void {
    this.log.warn('no ACK for 2xx, ending the session');
    const dialog = this.dialog;
    if (!dialog || this.state === 'ended') return;
    this.end('no-ack');
    this.ua.requestInDialog(dialog, dialog.createRequest('BYE')).catch(() => undefined);
  }

  /** An ACK for one of our 2xx responses (initial or re-INVITE). */
  receiveAck(req: SipRequest): void {
    const pending = this.incomingReinvite;
    if (pending && pending.res.cseq.seq === req.cseq.seq) {
      if (pending.timer) clearTimeout(pending.timer);
      this.incomingReinvite = undefined;
    }
  }

  private refresherRole(): 'uac' | 'uas' {
    const weAreUac = this.dialog?.isUac ?? true;
    const weRefresh = this.sessionExpires?.weRefresh ?? true;
    return weRefresh === weAreUac ? 'uac' : 'uas';
  }

  /** Arms the RFC 4028 timer from a 2xx's Session-Expires; `sentByUs` tells whether we sent the request. */
  protected applySessionTimer(res: SipResponse, sentByUs: boolean): void {
    const se = res.get('Session-Expires');
    if (se === undefined) return;
    const m = /^\s*(\d+)\s*(?:;\s*refresher\s*=\s*(uac|uas))?/i.exec(se);
    if (!m) return;
    // Whatever the peer wrote, the interval stays within what a timer can hold and we agreed to (RFC 4028 §4, §5).
    const seconds = clampSeconds(Number(m[1]), this.ua.minSessionExpiresSec, MAX_SESSION_EXPIRES_SEC);
    const refresher = (m[2] ?? 'uac').toLowerCase();
    // the refresher role is relative to the refreshing transaction, which `sentByUs` orients
    const weRefresh = sentByUs ? refresher === 'uac' : refresher === 'uas';
    this.sessionExpires = { seconds, weRefresh };
    this.armSessionTimer();
  }

  private armSessionTimer(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    const se = this.sessionExpires;
    if (!se || this.state === 'ended') return;
    const ms = timerDelayMs(se.weRefresh ? (se.seconds * 1000) / 2 : (se.seconds - Math.min(32, se.seconds / 3)) * 1000);
    this.sessionTimer = setTimeout(() => {
      if (this.state !== 'confirmed') return;
      if (se.weRefresh) {
        this.reinvite().then((r) => {
          if (r.status >= 200 && r.status < 300) this.safeEmit('refreshed');
        }, () => undefined);
      } else {
        this.log.info('session expired without refresh');
        const dialog = this.dialog;
        this.end('session-expired');
        if (dialog) this.ua.requestInDialog(dialog, dialog.createRequest('BYE')).catch(() => undefined);
      }
    }, ms);
    this.sessionTimer.unref();
  }

  private terminateAfterFailure(): void {
    // §14.1: a 481 or 408 to a re-INVITE ends the dialog
    const dialog = this.dialog;
    if (!dialog || this.state === 'ended') return;
    this.end('failed');
    this.ua.requestInDialog(dialog, dialog.createRequest('BYE')).catch(() => undefined);
  }

  /** Marks the call ended, releases its dialogs and timers, and emits `ended` once. */
  protected end(reason: CallEndReason): void {
    if (this.state === 'ended') return;
    const wasConfirmed = this.state === 'confirmed';
    this.state = 'ended';
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    if (this.incomingReinvite?.timer) clearTimeout(this.incomingReinvite.timer);
    this.incomingReinvite = undefined;
    this.dialog?.terminate();
    this.ua.releaseCall(this);
    this.log.debug({ reason }, 'call ended');
    if (wasConfirmed || reason === 'local-bye' || reason === 'remote-bye') this.safeEmit('ended', reason);
  }

  /** Every dialog this call owns (several while forked early dialogs exist). */
  abstract dialogs(): Dialog[];

  /** Ends the call whatever its state (CANCEL/reject before the answer, BYE after). */
  abstract terminate(): Promise<void>;
}
