import { SipParseError } from './SipParseError.js';
import { formatParams, parseParams, type SipParams } from './SipGrammar.js';

const VIA_RE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+([^;]*?)[ \t]*(;.*)?$/s;

/** One Via hop (RFC 3261 §20.42, RFC 3581 rport). */
export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined,
    public params: SipParams = new Map(),
    public protocol = 'SIP/2.0',
  ) {}

  /** Parses one via-parm (a single element of a possibly comma-separated Via header). */
  static parse(text: string): Via {
    const m = VIA_RE.exec(text.trim().replace(/\([^)]*\)/g, ''));
    if (!m) throw new SipParseError('malformed Via');
    const [, name, version, transport, sentBy, params] = m as unknown as [string, string, string, string, string, string?];
    let host: string;
    let portText: string | undefined;
    if (sentBy.startsWith('[')) {
      const close = sentBy.indexOf(']');
      if (close < 0) throw new SipParseError('bad IPv6 in Via');
      host = sentBy.slice(1, close);
      const after = sentBy.slice(close + 1).trim();
      if (after !== '') {
        if (!after.startsWith(':')) throw new SipParseError('bad Via sent-by');
        portText = after.slice(1).trim();
      }
    } else {
      const [h, p, extra] = sentBy.split(':');
      if (extra !== undefined) throw new SipParseError('bad Via sent-by');
      host = (h ?? '').trim();
      portText = p?.trim();
    }
    if (!/^[A-Za-z0-9.\-:]+$/.test(host)) throw new SipParseError('bad Via host');
    let port: number | undefined;
    if (portText !== undefined) {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new SipParseError('bad Via port');
      port = Number(portText);
    }
    return new Via(transport.toUpperCase(), host, port, parseParams(params ?? ''), `${name.toUpperCase()}/${version}`);
  }

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  /** The rport value: a number once filled in, `null` when requested but empty, undefined when absent. */
  get rport(): number | null | undefined {
    if (!this.params.has('rport')) return undefined;
    const v = this.params.get('rport');
    return v === null || v === undefined || v === '' ? null : Number(v);
  }

  /** `host:port` as a key for transaction matching. */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? ''}`;
  }

  toString(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    const port = this.port === undefined ? '' : `:${this.port}`;
    return `${this.protocol}/${this.transport} ${host}${port}${formatParams(this.params)}`;
  }
}
