import { canonicalHeaderName, isListHeader } from './HeaderNames.js';
import { NameAddr } from './NameAddr.js';
import { SipParseError } from './SipParseError.js';
import { splitOutside } from './SipGrammar.js';
import { Via } from './Via.js';

/** One header line: canonical name and its raw (unfolded) value. */
export interface SipHeader {
  name: string;
  value: string;
}

/** The CSeq header's two parts. */
export interface CSeq {
  seq: number;
  method: string;
}

const EMPTY = Buffer.alloc(0);

/** Common part of requests and responses: ordered headers and a body (RFC 3261 §7). */
export abstract class SipMessage {
  headers: SipHeader[] = [];
  body: Buffer = EMPTY;

  /** The request or status line, without CRLF. */
  abstract startLine(): string;

  /** The first value of a header, or undefined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name);
    return this.headers.find((h) => h.name === key)?.value;
  }

  /** Every value of a header: repeated lines, and for list headers each comma-separated element. */
  getAll(name: string): string[] {
    const key = canonicalHeaderName(name);
    const out: string[] = [];
    const list = isListHeader(key);
    for (const h of this.headers) {
      if (h.name !== key) continue;
      if (list) {
        for (const part of splitOutside(h.value, ',')) {
          const t = part.trim();
          if (t !== '') out.push(t);
        }
      } else out.push(h.value);
    }
    return out;
  }

  has(name: string): boolean {
    const key = canonicalHeaderName(name);
    return this.headers.some((h) => h.name === key);
  }

  /** Replaces every line of `name` with one line (or removes it when value is undefined). */
  set(name: string, value: string | number | undefined): this {
    const key = canonicalHeaderName(name);
    const idx = this.headers.findIndex((h) => h.name === key);
    this.headers = this.headers.filter((h) => h.name !== key);
    if (value !== undefined) this.headers.splice(idx < 0 ? this.headers.length : idx, 0, { name: key, value: String(value) });
    return this;
  }

  /** Appends a header line. */
  add(name: string, value: string | number): this {
    this.headers.push({ name: canonicalHeaderName(name), value: String(value) });
    return this;
  }

  /** Inserts a header line before any other line of the same name (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    const key = canonicalHeaderName(name);
    const idx = this.headers.findIndex((h) => h.name === key);
    this.headers.splice(idx < 0 ? 0 : idx, 0, { name: key, value });
    return this;
  }

  remove(name: string): this {
    const key = canonicalHeaderName(name);
    this.headers = this.headers.filter((h) => h.name !== key);
    return this;
  }

  get callId(): string {
    const v = this.get('Call-ID');
    if (v === undefined) throw new SipParseError('missing Call-ID');
    return v;
  }

  get cseq(): CSeq {
    const v = this.get('CSeq');
    const m = v === undefined ? null : /^(\d{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(v.trim());
    if (!m) throw new SipParseError('malformed CSeq');
    const seq = Number(m[1]);
    if (seq > 0x7fffffff) throw new SipParseError('CSeq number too large');
    return { seq, method: m[2] as string };
  }

  get from(): NameAddr {
    const v = this.get('From');
    if (v === undefined) throw new SipParseError('missing From');
    return NameAddr.parse(v);
  }

  get to(): NameAddr {
    const v = this.get('To');
    if (v === undefined) throw new SipParseError('missing To');
    return NameAddr.parse(v);
  }

  get vias(): Via[] {
    return this.getAll('Via').map((v) => Via.parse(v));
  }

  get topVia(): Via {
    const first = this.getAll('Via')[0];
    if (first === undefined) throw new SipParseError('missing Via');
    return Via.parse(first);
  }

  /** Replaces the top Via element, keeping the rest of the list. */
  setTopVia(via: Via): void {
    const all = this.getAll('Via');
    all[0] = via.toString();
    this.remove('Via');
    for (const v of all) this.add('Via', v);
  }

  /** Parsed Contact header entries (a `*` contact yields an empty list; check the raw value for it). */
  get contacts(): NameAddr[] {
    return this.getAll('Contact').filter((c) => c !== '*').map((c) => NameAddr.parse(c));
  }

  /** Options tags from Supported/Require-like headers, lowercased. */
  optionTags(name: 'Supported' | 'Require' | 'Proxy-Require' | 'Unsupported'): string[] {
    return this.getAll(name).map((t) => t.toLowerCase());
  }

  get contentType(): string | undefined {
    return this.get('Content-Type')?.split(';')[0]?.trim().toLowerCase();
  }

  /** The body as UTF-8 text. */
  get bodyText(): string {
    return this.body.toString('utf8');
  }

  set bodyText(text: string) {
    this.body = Buffer.from(text, 'utf8');
  }

  /** Wire form, with Content-Length computed from the body. */
  toBuffer(): Buffer {
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) {
      if (h.name === 'Content-Length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    const headBuf = Buffer.from(head, 'utf8');
    return this.body.length === 0 ? headBuf : Buffer.concat([headBuf, this.body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}
