import { SipMessage } from './SipMessage.js';
import { NameAddr } from './NameAddr.js';
import type { SipRequest } from './SipRequest.js';
import { reasonPhrase } from './SipStatus.js';

/** A Warning header value (RFC 3261 §20.43): code, agent and the text as a quoted string. */
export function warningValue(text: string, agent = 'conflux', code = 399): string {
  return `${code} ${agent} "${text.replace(/["\\\r\n]/g, ' ')}"`;
}

/** A SIP response (RFC 3261 §7.2). */
export class SipResponse extends SipMessage {
  constructor(public status: number, public reason: string = reasonPhrase(status)) {
    super();
  }

  /** Adds a Warning header (RFC 3261 §20.43) saying why, e.g. `399 conflux "SDP offer without fingerprint"`. */
  warn(text: string, agent = 'conflux', code = 399): this {
    this.add('Warning', warningValue(text, agent, code));
    return this;
  }

  startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  /** A response to `req` per RFC 3261 §8.2.6: Via, From, To (+tag), Call-ID and CSeq copied. */
  static forRequest(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
    const res = new SipResponse(status, reason ?? reasonPhrase(status));
    for (const h of req.headers) {
      if (h.name === 'Via' || h.name === 'From' || h.name === 'Call-ID' || h.name === 'CSeq') res.headers.push({ ...h });
      else if (h.name === 'To') {
        let value = h.value;
        if (toTag !== undefined && status !== 100) {
          try {
            const to = NameAddr.parse(h.value);
            if (to.tag === undefined) {
              to.tag = toTag;
              value = to.toString();
            }
          } catch {
            // an unparsable To is echoed verbatim; only a 400 is sent for such requests anyway
          }
        }
        res.headers.push({ name: 'To', value });
      } else if (h.name === 'Record-Route' && status > 100 && status < 300) res.headers.push({ ...h });
      else if (h.name === 'Timestamp' && status === 100) res.headers.push({ ...h });
    }
    return res;
  }
}
