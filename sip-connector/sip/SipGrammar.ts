import { SipParseError } from './SipParseError.js';

/** Ordered, case-insensitive parameter list (`;name=value;flag`). Names are stored lowercase. */
export type SipParams = Map<string, string | null>;

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** True when `text` is an RFC 3261 token. */
export function isToken(text: string): boolean {
  return TOKEN_RE.test(text);
}

/**
 * Splits on `sep` outside quoted strings and angle brackets, the places where separators are literal
 * (a display name or a URI may contain commas and semicolons).
 */
export function splitOutside(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuote = false;
  let angle = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') angle++;
    else if (ch === '>') angle = Math.max(0, angle - 1);
    else if (ch === sep && angle === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (inQuote) throw new SipParseError('unterminated quoted string');
  parts.push(text.slice(start));
  return parts;
}

/** Reads a quoted-string starting at `text[start] === '"'`; returns its unescaped value and the index after it. */
export function readQuoted(text: string, start: number): { value: string; end: number } {
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      if (i + 1 >= text.length) break;
      value += text[++i];
    } else if (ch === '"') {
      return { value, end: i + 1 };
    } else value += ch;
  }
  throw new SipParseError('unterminated quoted string');
}

/** Quotes a value as a quoted-string, escaping backslash and double quote. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Parses `;a=b;c;d="q"` (leading semicolon optional) into a parameter map; quoted values keep their quotes. */
export function parseParams(text: string): SipParams {
  const params: SipParams = new Map();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  const parts = splitOutside(trimmed.startsWith(';') ? trimmed.slice(1) : trimmed, ';');
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') throw new SipParseError('empty parameter');
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!isToken(name)) throw new SipParseError(`bad parameter name "${name}"`);
    const value = eq < 0 ? null : part.slice(eq + 1).trim();
    if (value !== null) {
      if (value.startsWith('"')) {
        const q = readQuoted(value, 0);
        if (q.end !== value.length) throw new SipParseError('junk after quoted parameter');
      } else if (!/^[A-Za-z0-9\-.!%*_+`'~[\]:]*$/.test(value)) {
        throw new SipParseError(`bad parameter value for "${name}"`);
      }
    }
    params.set(name.toLowerCase(), value);
  }
  return params;
}

/** Serializes a parameter map as `;a=b;c`. */
export function formatParams(params: SipParams): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** Removes the surrounding quotes (and escapes) of a parameter value if it is quoted. */
export function unquote(value: string): string {
  return value.startsWith('"') ? readQuoted(value, 0).value : value;
}

/** Decodes %HH escapes, rejecting malformed ones. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw new SipParseError('malformed escape in URI');
  try {
    return decodeURIComponent(text);
  } catch {
    // a byte sequence that is not UTF-8 is still a legal user part; keep it as latin1 code points
    return text.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Escapes every character of `text` not in the allowed set (besides alphanumerics and `-_.!~*'()`). */
export function percentEncode(text: string, extraAllowed: string): string {
  let out = '';
  for (const ch of text) {
    if (/[A-Za-z0-9\-_.!~*'()]/.test(ch) || extraAllowed.includes(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
