import { SipParseError } from './SipParseError.js';
import { formatParams, parseParams, percentDecode, percentEncode, type SipParams } from './SipGrammar.js';

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/** A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966); other schemes are kept opaque. */
export class SipUri {
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  /** Host without IPv6 brackets; for tel URIs the empty string. */
  host: string;
  port: number | undefined;
  params: SipParams;
  headers: Map<string, string>;
  /** Everything after `scheme:` for schemes this stack does not interpret. */
  opaque: string | undefined;

  constructor(init: Partial<Pick<SipUri, 'scheme' | 'user' | 'password' | 'host' | 'port' | 'opaque'>> & {
    params?: SipParams; headers?: Map<string, string>;
  } = {}) {
    this.scheme = init.scheme ?? 'sip';
    this.user = init.user;
    this.password = init.password;
    this.host = init.host ?? '';
    this.port = init.port;
    this.params = init.params ?? new Map();
    this.headers = init.headers ?? new Map();
    this.opaque = init.opaque;
  }

  /** Parses a URI; throws SipParseError on bad syntax. */
  static parse(text: string): SipUri {
    const colon = text.indexOf(':');
    if (colon <= 0) throw new SipParseError(`not a URI: "${text.slice(0, 80)}"`);
    const scheme = text.slice(0, colon).toLowerCase();
    if (!/^[a-z][a-z0-9+\-.]*$/.test(scheme)) throw new SipParseError('bad URI scheme');
    const rest = text.slice(colon + 1);
    if (/[\s<>"]/.test(rest)) throw new SipParseError('illegal character in URI');
    if (scheme === 'sip' || scheme === 'sips') return SipUri.parseSip(scheme, rest);
    if (scheme === 'tel') {
      const semi = rest.indexOf(';');
      const number = semi < 0 ? rest : rest.slice(0, semi);
      if (!/^[+0-9A-Fa-f*#\-.()pPwW]+$/.test(number)) throw new SipParseError('bad telephone number');
      return new SipUri({ scheme, user: number, params: semi < 0 ? new Map() : parseParams(rest.slice(semi)) });
    }
    if (rest === '') throw new SipParseError('empty URI');
    return new SipUri({ scheme, opaque: rest });
  }

  private static parseSip(scheme: string, rest: string): SipUri {
    const uri = new SipUri({ scheme });
    let hostPart = rest;
    const at = rest.indexOf('@');
    if (at >= 0) {
      const userinfo = rest.slice(0, at);
      hostPart = rest.slice(at + 1);
      const pc = userinfo.indexOf(':');
      const user = pc < 0 ? userinfo : userinfo.slice(0, pc);
      if (user === '') throw new SipParseError('empty user part');
      uri.user = percentDecode(user);
      if (pc >= 0) uri.password = percentDecode(userinfo.slice(pc + 1));
    }
    const q = hostPart.indexOf('?');
    if (q >= 0) {
      for (const pair of hostPart.slice(q + 1).split('&')) {
        if (pair === '') continue;
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new SipParseError('bad URI header');
        uri.headers.set(percentDecode(pair.slice(0, eq)), percentDecode(pair.slice(eq + 1)));
      }
      hostPart = hostPart.slice(0, q);
    }
    const semi = hostPart.indexOf(';');
    if (semi >= 0) {
      uri.params = parseParams(hostPart.slice(semi));
      hostPart = hostPart.slice(0, semi);
    }
    let portText: string | undefined;
    if (hostPart.startsWith('[')) {
      const close = hostPart.indexOf(']');
      if (close < 0) throw new SipParseError('unterminated IPv6 reference');
      uri.host = hostPart.slice(1, close);
      if (!IPV6_RE.test(uri.host) || !uri.host.includes(':')) throw new SipParseError('bad IPv6 reference');
      const after = hostPart.slice(close + 1);
      if (after !== '') {
        if (!after.startsWith(':')) throw new SipParseError('junk after IPv6 reference');
        portText = after.slice(1);
      }
    } else {
      const pc = hostPart.indexOf(':');
      uri.host = pc < 0 ? hostPart : hostPart.slice(0, pc);
      if (pc >= 0) portText = hostPart.slice(pc + 1);
      if (!HOSTNAME_RE.test(uri.host)) throw new SipParseError(`bad host "${uri.host.slice(0, 80)}"`);
    }
    if (portText !== undefined) {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new SipParseError('bad port');
      uri.port = Number(portText);
    }
    return uri;
  }

  get isSip(): boolean {
    return this.scheme === 'sip' || this.scheme === 'sips';
  }

  /** The `transport` parameter lowercased, if present. */
  get transport(): string | undefined {
    return this.params.get('transport')?.toLowerCase() ?? undefined;
  }

  /** Host as written in a URI or Via: IPv6 addresses get brackets. */
  get hostport(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return this.port === undefined ? host : `${host}:${this.port}`;
  }

  /** `user@host` without port and parameters, the address-of-record form. */
  get aor(): string {
    const host = this.host.toLowerCase();
    return this.user === undefined ? host : `${this.user}@${host}`;
  }

  /** A deep copy. */
  clone(): SipUri {
    return new SipUri({
      scheme: this.scheme, user: this.user, password: this.password, host: this.host, port: this.port,
      opaque: this.opaque, params: new Map(this.params), headers: new Map(this.headers),
    });
  }

  toString(): string {
    if (this.opaque !== undefined) return `${this.scheme}:${this.opaque}`;
    if (this.scheme === 'tel') return `tel:${this.user ?? ''}${formatParams(this.params)}`;
    let out = `${this.scheme}:`;
    if (this.user !== undefined) {
      out += percentEncode(this.user, '&=+$,;?/');
      if (this.password !== undefined) out += `:${percentEncode(this.password, '&=+$,')}`;
      out += '@';
    }
    out += this.hostport + formatParams(this.params);
    if (this.headers.size > 0) {
      out += '?' + [...this.headers].map(([k, v]) =>
        `${percentEncode(k, '[]/?:+$')}=${percentEncode(v, '[]/?:+$')}`).join('&');
    }
    return out;
  }
}
