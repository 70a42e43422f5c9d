import { DigestClient } from './DigestAuth.js';
import type { SipLogger } from './Logger.js';
import { NameAddr } from './NameAddr.js';
import { randomToken } from './SipRandom.js';
import type { SipResponse } from './SipResponse.js';
import { SipUri } from './SipUri.js';
import { TypedEmitter } from './TypedEmitter.js';
import { clampSeconds, MAX_REGISTRATION_SEC } from './PeerSeconds.js';
import type { RegistrationClientEvents, RegistrationClientOptions } from './RegistrationClientTypes.js';
import type { TransportKind } from './TransportTypes.js';
import type { UserAgent } from './UserAgent.js';

/** Keeps one contact registered with a registrar (RFC 3261 §10.2): refresh before expiry, back-off after failure. */
export class RegistrationClient extends TypedEmitter<RegistrationClientEvents> {
  private readonly callId = `${randomToken(12)}@reg`;
  private readonly fromTag = randomToken(6);
  private cseq = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private inFlight: Promise<void> | undefined;
  private readonly digest: DigestClient;
  private readonly log: SipLogger;
  private readonly registrarUri: SipUri;
  private expiresSec: number;
  /** Seconds granted by the last successful registration, 0 when not registered. */
  registeredFor = 0;

  constructor(private readonly ua: UserAgent, private readonly opts: RegistrationClientOptions) {
    super();
    this.digest = new DigestClient(opts.credentials ? [opts.credentials] : []);
    this.registrarUri = SipUri.parse(opts.registrar);
    this.expiresSec = opts.expiresSec ?? 600;
    this.log = ua.logger.child({ callId: this.callId, aor: opts.aor });
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.log.error({ err: error, event }, 'registration listener threw');
  }

  /** Registers now and keeps the registration alive until `stop()`. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.inFlight = this.attempt().finally(() => { this.inFlight = undefined; });
    }, ms);
    this.timer.unref();
  }

  private contact(): string {
    const kind = (this.registrarUri.transport ?? (this.registrarUri.scheme === 'sips' ? 'tls' : 'udp')) as TransportKind;
    const c = NameAddr.parse(this.ua.contactFor(kind));
    for (const [k, v] of Object.entries(this.opts.contactParams ?? {})) c.params.set(k.toLowerCase(), v);
    return c.toString();
  }

  private async send(expires: number): Promise<SipResponse> {
    const req = this.ua.buildRequest('REGISTER', this.registrarUri.clone(), {
      from: this.opts.aor, fromTag: this.fromTag, callId: this.callId, cseq: ++this.cseq,
    });
    const to = new NameAddr(SipUri.parse(this.opts.aor));
    req.set('To', to.toString());
    req.add('Contact', this.contact());
    req.add('Expires', expires);
    const res = await this.ua.requestFinal(req, undefined, undefined, undefined, undefined, this.digest);
    this.cseq = Math.max(this.cseq, res.cseq.seq);
    return res;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const res = await this.send(this.expiresSec);
    if (this.stopped) return;
    if (res.status === 423) {
      const min = Number(res.get('Min-Expires'));
      if (Number.isInteger(min) && min > this.expiresSec && min <= MAX_REGISTRATION_SEC) {
        this.expiresSec = min;
        this.schedule(0);
        return;
      }
    }
    if (res.status >= 200 && res.status < 300) {
      const granted = clampSeconds(this.grantedExpires(res), 1, MAX_REGISTRATION_SEC);
      this.failures = 0;
      this.registeredFor = granted;
      // refresh ahead of expiry by 10% (at least 5 s) so one lost request can still be retransmitted in time
      const refreshMs = Math.max(1000, granted * 1000 - Math.max(5000, granted * 100));
      this.log.debug({ expires: granted }, 'registered');
      this.schedule(refreshMs);
      this.safeEmit('registered', granted);
      return;
    }
    this.registeredFor = 0;
    const min = this.opts.retryMinMs ?? 2000;
    const max = this.opts.retryMaxMs ?? 300_000;
    const backoff = Math.min(max, min * 2 ** this.failures) * (0.8 + Math.random() * 0.2);
    this.failures++;
    this.log.warn({ status: res.status, retryInMs: Math.round(backoff) }, 'registration failed');
    this.schedule(backoff);
    this.safeEmit('failed', res.status, res.reason, Math.round(backoff));
  }

  private grantedExpires(res: SipResponse): number {
    const mine = NameAddr.parse(this.contact()).uri;
    for (const c of res.contacts) {
      if (c.uri.host === mine.host && c.uri.port === mine.port && c.uri.user === mine.user) {
        const e = Number(c.params.get('expires'));
        if (Number.isFinite(e)) return e;
      }
    }
    const header = Number(res.get('Expires'));
    return Number.isFinite(header) && res.has('Expires') ? header : this.expiresSec;
  }

  /** Unregisters (Expires: 0) and stops refreshing. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    if (this.registeredFor > 0) {
      const res = await this.send(0);
      this.registeredFor = 0;
      this.log.info({ status: res.status }, 'unregistered');
      this.safeEmit('unregistered');
    }
    this.safeEmit('closed');
  }
}
