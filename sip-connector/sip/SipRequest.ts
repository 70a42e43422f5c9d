import { SipMessage } from './SipMessage.js';
import type { SipUri } from './SipUri.js';

/** A SIP request (RFC 3261 §7.1). */
export class SipRequest extends SipMessage {
  constructor(public method: string, public uri: SipUri) {
    super();
  }

  startLine(): string {
    return `${this.method} ${this.uri.toString()} SIP/2.0`;
  }

  /** A copy with the same headers and body (headers are shallow-copied line by line). */
  clone(): SipRequest {
    const r = new SipRequest(this.method, this.uri.clone());
    r.headers = this.headers.map((h) => ({ ...h }));
    r.body = this.body;
    return r;
  }
}
