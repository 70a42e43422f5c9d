import { createHash, randomBytes } from 'node:crypto';
import { SipParseError } from './SipParseError.js';
import { quote, readQuoted } from './SipGrammar.js';

/** Digest algorithms of RFC 2617, RFC 7616 and RFC 8760. */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

const HASHES: Record<string, string> = { 'MD5': 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** A parsed WWW-Authenticate / Proxy-Authenticate Digest challenge. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  qop: string[];
  stale: boolean;
}

/** Username and password for one realm (or any realm when `realm` is absent). */
export interface DigestCredentials {
  username: string;
  password: string;
  realm?: string;
}

/** Inputs of the digest response computation (RFC 7616 §3.4.1). */
export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** Parses `Digest a=b, c="d"` into lowercase-keyed, unquoted values. */
export function parseDigestParams(header: string): Map<string, string> {
  const text = header.trim();
  if (!/^digest[ \t]/i.test(text)) throw new SipParseError('not a Digest credential/challenge');
  const params = new Map<string, string>();
  let i = 6;
  while (i < text.length) {
    while (i < text.length && /[ \t,]/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new SipParseError('bad Digest parameter');
    const name = text.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (text[j] === ' ' || text[j] === '\t') j++;
    let value: string;
    if (text[j] === '"') {
      const q = readQuoted(text, j);
      value = q.value;
      i = q.end;
    } else {
      const comma = text.indexOf(',', j);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(j, end).trim();
      i = end;
    }
    params.set(name, value);
  }
  return params;
}

/** Normalises an algorithm name; throws for ones this stack cannot compute. */
export function parseAlgorithm(name: string | undefined): DigestAlgorithm {
  if (name === undefined || name === '') return 'MD5';
  const upper = name.toUpperCase();
  const base = upper.endsWith('-SESS') ? upper.slice(0, -5) : upper;
  if (!HASHES[base]) throw new SipParseError(`unsupported digest algorithm ${name}`);
  return (upper.endsWith('-SESS') ? `${base}-sess` : base) as DigestAlgorithm;
}

/** Parses one challenge header value. */
export function parseChallenge(header: string): DigestChallenge {
  const p = parseDigestParams(header);
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) throw new SipParseError('challenge without realm or nonce');
  const opaque = p.get('opaque');
  return {
    realm, nonce, algorithm: parseAlgorithm(p.get('algorithm')), stale: p.get('stale')?.toLowerCase() === 'true',
    qop: (p.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase()).filter((q) => q !== ''),
    ...(opaque !== undefined ? { opaque } : {}),
  };
}

/** Hex digest of `data` with the algorithm's hash function. */
export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASHES[algorithm.replace(/-sess$/, '')] as string).update(data, 'utf8').digest('hex');
}

/** The `response` value of a Digest credential. */
export function computeDigestResponse(input: DigestResponseInput): string {
  const { algorithm, username, realm, password, method, uri, nonce, qop, nc, cnonce } = input;
  let ha1 = digestHash(algorithm, `${username}:${realm}:${password}`);
  if (algorithm.endsWith('-sess')) ha1 = digestHash(algorithm, `${ha1}:${nonce}:${cnonce ?? ''}`);
  const ha2 = digestHash(algorithm, `${method}:${uri}`);
  return qop
    ? digestHash(algorithm, `${ha1}:${nonce}:${nc ?? ''}:${cnonce ?? ''}:${qop}:${ha2}`)
    : digestHash(algorithm, `${ha1}:${nonce}:${ha2}`);
}

/** Client side of Digest: answers challenges and keeps the nonce count per nonce. */
export class DigestClient {
  private readonly nonceCounts = new Map<string, number>();

  constructor(private readonly credentials: DigestCredentials[]) {}

  /** Credentials usable for `realm`, if any. */
  credentialsFor(realm: string): DigestCredentials | undefined {
    return this.credentials.find((c) => c.realm === undefined || c.realm === realm);
  }

  /** Builds the Authorization/Proxy-Authorization value answering `challenge`, or undefined without credentials. */
  authorize(challenge: DigestChallenge, method: string, uri: string): string | undefined {
    const cred = this.credentialsFor(challenge.realm);
    if (!cred) return undefined;
    const useQop = challenge.qop.includes('auth') ? 'auth' : undefined;
    const count = (this.nonceCounts.get(challenge.nonce) ?? 0) + 1;
    if (this.nonceCounts.size > 64) this.nonceCounts.clear();
    this.nonceCounts.set(challenge.nonce, count);
    const nc = count.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const response = computeDigestResponse({
      algorithm: challenge.algorithm, username: cred.username, realm: challenge.realm, password: cred.password,
      method, uri, nonce: challenge.nonce, ...(useQop ? { qop: useQop, nc, cnonce } : {}),
    });
    const parts = [
      `username=${quote(cred.username)}`, `realm=${quote(challenge.realm)}`, `nonce=${quote(challenge.nonce)}`,
      `uri=${quote(uri)}`, `response=${quote(response)}`, `algorithm=${challenge.algorithm}`,
    ];
    if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
    if (useQop) parts.push(`qop=${useQop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
    return `Digest ${parts.join(', ')}`;
  }
}
