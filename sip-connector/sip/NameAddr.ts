import { SipParseError } from './SipParseError.js';
import { formatParams, isToken, parseParams, quote, readQuoted, type SipParams } from './SipGrammar.js';
import { SipUri } from './SipUri.js';

/** A name-addr or addr-spec with header parameters, as in From, To, Contact, Route (RFC 3261 §20.10). */
export class NameAddr {
  constructor(
    public uri: SipUri,
    public displayName: string | undefined = undefined,
    public params: SipParams = new Map(),
  ) {}

  /** Parses `"Name" <uri>;p=v`, `Name <uri>`, `<uri>` or a bare addr-spec (whose `;` params belong to the header). */
  static parse(text: string): NameAddr {
    const t = text.trim();
    if (t === '') throw new SipParseError('empty address');
    let display: string | undefined;
    let pos = 0;
    if (t.startsWith('"')) {
      const q = readQuoted(t, 0);
      display = q.value;
      pos = q.end;
      while (t[pos] === ' ' || t[pos] === '\t') pos++;
      if (t[pos] !== '<') throw new SipParseError('quoted display name without <URI>');
    } else {
      const lt = t.indexOf('<');
      if (lt >= 0) {
        const name = t.slice(0, lt).trim();
        if (name !== '') {
          // an unquoted display name is a sequence of tokens (RFC 3261 §25.1)
          if (!name.split(/[ \t]+/).every(isToken)) throw new SipParseError('unquoted display name has illegal characters');
          display = name;
        }
        pos = lt;
      } else {
        pos = -1;
      }
    }
    if (pos < 0) {
      const at = t.indexOf('@');
      const semi = t.indexOf(';', at < 0 ? 0 : at);
      const uriText = semi < 0 ? t : t.slice(0, semi);
      if (/[,?]/.test(uriText) && !uriText.startsWith('tel:')) throw new SipParseError('addr-spec with , or ? needs <>');
      return new NameAddr(SipUri.parse(uriText.trim()), undefined, semi < 0 ? new Map() : parseParams(t.slice(semi)));
    }
    const gt = t.indexOf('>', pos);
    if (gt < 0) throw new SipParseError('missing >');
    const uri = SipUri.parse(t.slice(pos + 1, gt));
    const rest = t.slice(gt + 1).trim();
    if (rest !== '' && !rest.startsWith(';')) throw new SipParseError('junk after >');
    return new NameAddr(uri, display, parseParams(rest));
  }

  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  set tag(value: string | undefined) {
    if (value === undefined) this.params.delete('tag');
    else this.params.set('tag', value);
  }

  /** A deep copy. */
  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), this.displayName, new Map(this.params));
  }

  toString(): string {
    const name = this.displayName === undefined ? '' : `${quote(this.displayName)} `;
    return `${name}<${this.uri.toString()}>${formatParams(this.params)}`;
  }
}
