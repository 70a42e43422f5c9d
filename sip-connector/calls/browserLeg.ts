import { ConfluxError } from '../../server/errors.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import type { Binding } from '../sip/RegistrarTypes.js';
import { warningValue } from '../sip/SipResponse.js';
import type { UserAgent } from '../sip/UserAgent.js';

/** How long a browser we call may ring. */
export const BROWSER_RING_TIMEOUT_MS = 30_000;

/** A call we placed to a browser SIP client's binding, and its answer to come. */
interface BrowserInvite {
  call: OutgoingCall;
  /** Its answer SDP; rejects with its refusal, a ConfluxError whose sipStatus is what the caller should be told. */
  answered: Promise<string>;
}

export interface BrowserInviteOptions {
  from: string;
  displayName: string;
  maxForwards: number;
  /** Told once, at the first 180 or 183. */
  onRinging: () => void;
}

/** INVITEs a browser where it registered from (its WebSocket flow) with our WebRTC `offer`. */
function inviteBrowser(ua: UserAgent, binding: Binding, offer: string, options: BrowserInviteOptions): BrowserInvite {
  const call = ua.sendInvite(binding.contact.uri.toString(), offer, {
    from: options.from, displayName: options.displayName, destination: binding.source, noAnswerTimeoutMs: BROWSER_RING_TIMEOUT_MS,
    maxForwards: options.maxForwards,
  });
  const answered = new Promise<string>((resolve, reject) => {
    let ringing = false;
    call.on('provisional', (status) => {
      if (!ringing && (status === 180 || status === 183)) {
        ringing = true;
        options.onRinging();
      }
    });
    call.once('failed', (status, reason) => {
      reject(new ConfluxError(`the browser answered ${status} ${reason}`, 480, status >= 400 && status < 700 && status !== 487 ? status : 480));
    });
    call.once('answered', resolve);
  });
  return { call, answered };
}

/** How many of a user's browsers one call rings at once: each has a WebRTC transport of its own, and a participant has four at most. */
export const MAX_BROWSER_FORKS = 4;

/** What the CANCEL to a browser that lost the race says (RFC 3326): it is no missed call. */
export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

/** One browser a call rings, with the media leg (its own transport) the offer it got is for. */
export interface BrowserFork<L> {
  binding: Binding;
  leg: L;
  call: OutgoingCall;
}

/** The browser that answered, and its answer SDP. */
export interface AnsweredFork<L> extends BrowserFork<L> {
  answer: string;
}

/**
 * Rings a user's browsers at once (parallel forking, as a proxy does for a user's contacts): each gets an
 * offer of its own leg, the first to answer takes the call, and the others are cancelled with "Call completed
 * elsewhere", or hung up if they answered too. When every browser refuses, the caller is told the refusal
 * that says most: a decline everywhere (6xx) first, then the first busy or other refusal, else 480.
 */
export class BrowserRing<L extends { close(): void }> {
  readonly forks: readonly BrowserFork<L>[];
  /** The browser that answered; rejects with the refusal the caller should hear once all have refused. */
  readonly answered: Promise<AnsweredFork<L>>;
  #winner: BrowserFork<L> | null = null;
  #aborted = false;

  private constructor(forks: BrowserFork<L>[], answers: Promise<string>[]) {
    this.forks = forks;
    this.answered = new Promise<AnsweredFork<L>>((resolve, reject) => {
      const refusals: unknown[] = [];
      forks.forEach((fork, index) => {
        (answers[index] as Promise<string>).then((answer) => {
          if (this.#winner || this.#aborted) {
            void fork.call.terminate();
            fork.leg.close();
            return;
          }
          this.#winner = fork;
          for (const other of forks) if (other !== fork) this.#drop(other);
          resolve({ ...fork, answer });
        }, (error: unknown) => {
          fork.leg.close();
          refusals.push(error);
          if (refusals.length === forks.length) reject(mostTelling(refusals));
        });
      });
    });
    // A ring nobody waits on (the caller gave up) must not leave its refusal unhandled.
    this.answered.catch(() => undefined);
  }

  /**
   * Opens a leg for each of `bindings` (the newest MAX_BROWSER_FORKS) and INVITEs each browser with
   * `offerOf` its leg. `options.onRinging` is told once, at the first browser's 180 or 183.
   */
  static async start<L extends { close(): void }>(ua: UserAgent, bindings: readonly Binding[], openLeg: () => Promise<L>,
    offerOf: (leg: L) => string, options: BrowserInviteOptions): Promise<BrowserRing<L>> {
    const chosen = bindings.slice(0, MAX_BROWSER_FORKS);
    if (chosen.length === 0) throw new ConfluxError('no browser to call', 404, 480);
    const legs: L[] = [];
    try {
      for (let i = 0; i < chosen.length; i++) legs.push(await openLeg());
    } catch (error) {
      for (const leg of legs) leg.close();
      throw error;
    }
    let rang = false;
    const onRinging = (): void => {
      if (rang) return;
      rang = true;
      options.onRinging();
    };
    const invites = chosen.map((binding, index) => {
      const leg = legs[index] as L;
      return { binding, leg, ...inviteBrowser(ua, binding, offerOf(leg), { ...options, onRinging }) };
    });
    return new BrowserRing(invites.map(({ binding, leg, call }) => ({ binding, leg, call })), invites.map((invite) => invite.answered));
  }

  /** Stops ringing the browsers that have not won: CANCEL (BYE for one that answered meanwhile); the winner is left as it is. */
  abort(): void {
    this.#aborted = true;
    for (const fork of this.forks) if (fork !== this.#winner) this.#drop(fork);
  }

  #drop(fork: BrowserFork<L>): void {
    if (fork.call.state === 'confirmed') void fork.call.bye().catch(() => undefined);
    else if (fork.call.state !== 'ended') void fork.call.cancel(COMPLETED_ELSEWHERE);
    fork.leg.close();
  }
}

/**
 * RFC 3261 §16.7 in short: a decline everywhere (6xx) says most, then a refusal that is the user's (busy, …),
 * then an absence (408, 480, 487), then a failure of ours or of the path (5xx, a flow that is gone).
 */
function mostTelling(refusals: unknown[]): unknown {
  const rank = (error: unknown): number => {
    const status = error instanceof ConfluxError ? error.sipStatus : 500;
    if (status >= 600) return 0;
    if (status >= 500) return 3;
    return [408, 480, 487].includes(status) ? 2 : 1;
  };
  return refusals.reduce((best, error) => (rank(error) < rank(best) ? error : best));
}

/** Refuses a caller (before it is answered) with `error`'s status, and a Warning saying why when the refusal is ours to explain. */
export function refuseCaller(caller: IncomingCall, error: unknown): void {
  const status = error instanceof ConfluxError ? error.sipStatus : 500;
  caller.reject(status, undefined, error instanceof ConfluxError && status < 500 ? { Warning: warningValue(error.message) } : {});
}
