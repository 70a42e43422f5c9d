import { ConfluxError } from '../../server/errors.js';
import type { IncomingCall } from '../sip/IncomingCall.js';
import type { OutgoingCall } from '../sip/OutgoingCall.js';
import type { Binding } from '../sip/RegistrarTypes.js';
import { warningValue } from '../sip/SipResponse.js';
import type { UserAgent } from '../sip/UserAgent.js';

/** How long a browser we call may ring. */
export const BROWSER_RING_TIMEOUT_MS = 30_000;

/** A call we placed to a browser SIP client's binding, and its answer to come. */
export interface BrowserInvite {
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
export function inviteBrowser(ua: UserAgent, binding: Binding, offer: string, options: BrowserInviteOptions): BrowserInvite {
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

/** Refuses a caller (before it is answered) with `error`'s status, and a Warning saying why when the refusal is ours to explain. */
export function refuseCaller(caller: IncomingCall, error: unknown): void {
  const status = error instanceof ConfluxError ? error.sipStatus : 500;
  caller.reject(status, undefined, error instanceof ConfluxError && status < 500 ? { Warning: warningValue(error.message) } : {});
}
