import { NameAddr } from './NameAddr.js';
import { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';
import type { SipUri } from './SipUri.js';
import type { MessageSource } from './TransportTypes.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';

/** Methods that replace the remote target when they succeed (RFC 3261 §12.2, RFC 3311). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

/** Dialog state of RFC 3261 §12: identifiers, sequence numbers, remote target and route set. */
export class Dialog {
  state: DialogState;
  /** Stream connection the dialog arrived on, reused for requests to peers without a reachable address. */
  flow: MessageSource | undefined;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    public localSeq: number,
    public remoteSeq: number | undefined,
    readonly localUri: NameAddr,
    readonly remoteUri: NameAddr,
    public remoteTarget: SipUri,
    public routeSet: string[],
    readonly isUac: boolean,
    state: DialogState,
  ) {
    this.state = state;
  }

  /** The dialog a UAC derives from a 1xx/2xx with a To tag (§12.1.2); Record-Route is reversed. */
  static asUac(request: SipRequest, response: SipResponse): Dialog {
    const to = response.to;
    const contact = response.contacts[0];
    return new Dialog(
      request.callId, request.from.tag ?? '', to.tag ?? '', request.cseq.seq, undefined,
      request.from, to, (contact?.uri ?? request.uri).clone(), response.getAll('Record-Route').reverse(), true,
      response.status >= 200 ? 'confirmed' : 'early',
    );
  }

  /** The dialog a UAS creates when it answers `request` with `localTag` (§12.1.1); Record-Route keeps its order. */
  static asUas(request: SipRequest, localTag: string, source?: MessageSource): Dialog {
    const to = request.to;
    to.tag = localTag;
    const contact = request.contacts[0];
    const d = new Dialog(
      request.callId, localTag, request.from.tag ?? '', Math.floor(Math.random() * 10_000) + 1, request.cseq.seq,
      to, request.from, (contact?.uri ?? request.uri).clone(), request.getAll('Record-Route'), false, 'early',
    );
    d.flow = source?.flowId ? source : undefined;
    return d;
  }

  /** Key the UA uses to find the dialog of an incoming request or response. */
  static key(callId: string, localTag: string, remoteTag: string): string {
    return `${callId}|${localTag}|${remoteTag}`;
  }

  get id(): string {
    return Dialog.key(this.callId, this.localTag, this.remoteTag);
  }

  /** A UAC dialog confirmed by a 2xx takes the route set and target from that 2xx (§13.2.2.4). */
  confirm(response?: SipResponse): void {
    if (response && this.isUac) {
      this.routeSet = response.getAll('Record-Route').reverse();
      const contact = response.contacts[0];
      if (contact) this.remoteTarget = contact.uri.clone();
    }
    this.state = 'confirmed';
  }

  /** Where the next in-dialog request goes first: the top route, or the remote target. */
  nextHop(): SipUri {
    const first = this.routeSet[0];
    return first ? NameAddr.parse(first).uri : this.remoteTarget;
  }

  /** Builds an in-dialog request (§12.2.1.1), handling loose and strict routing; ACK/CANCEL reuse `seq`. */
  createRequest(method: string, seq?: number): SipRequest {
    if (seq === undefined) seq = ++this.localSeq;
    const routes = [...this.routeSet];
    let uri = this.remoteTarget.clone();
    const first = routes[0];
    if (first) {
      const top = NameAddr.parse(first);
      if (!top.uri.params.has('lr')) {
        // strict routing: the first hop goes into the Request-URI and the target becomes the last Route
        uri = top.uri.clone();
        routes.shift();
        routes.push(`<${this.remoteTarget.toString()}>`);
      }
    }
    const req = new SipRequest(method, uri);
    for (const r of routes) req.add('Route', r);
    req.add('Max-Forwards', 70);
    req.add('From', this.localUri.toString());
    req.add('To', this.remoteUri.toString());
    req.add('Call-ID', this.callId);
    req.add('CSeq', `${seq} ${method}`);
    return req;
  }

  /**
   * Checks and records the CSeq of an incoming in-dialog request (§12.2.2); false means it is out of
   * order and must be answered 500. A successful target refresh updates the remote target.
   */
  receiveRequest(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    const seq = req.cseq.seq;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    if (TARGET_REFRESH.has(req.method)) {
      const contact = req.contacts[0];
      if (contact) this.remoteTarget = contact.uri.clone();
    }
    return true;
  }

  /** Ends the dialog. */
  terminate(): void {
    this.state = 'terminated';
  }
}
