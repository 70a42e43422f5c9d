import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { computeDigestResponse, DigestClient, parseChallenge, parseDigestParams } from '../../../../sip-connector/sip/DigestAuth.js';
import { DigestServer } from '../../../../sip-connector/sip/DigestServer.js';
import { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import { SipUri } from '../../../../sip-connector/sip/SipUri.js';

const h = (alg: string, s: string): string => createHash(alg).update(s).digest('hex');

describe('digest response computation', () => {
  it('matches the RFC 2617 §3.5 MD5 example', () => {
    expect(computeDigestResponse({
      algorithm: 'MD5', username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life', method: 'GET',
      uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b',
    })).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('matches the RFC 7616 §3.9.1 SHA-256 example', () => {
    expect(computeDigestResponse({
      algorithm: 'SHA-256', username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET',
      uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth', nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    })).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  for (const [alg, node] of [['MD5', 'md5'], ['SHA-256', 'sha256']] as const) {
    it(`${alg} agrees with an independent node:crypto computation (with and without qop, -sess)`, () => {
      const p = { username: 'alice', realm: 'conflux.test', password: 'sécret', method: 'REGISTER', uri: 'sip:conflux.test', nonce: 'n0nce' };
      const ha1 = h(node, `${p.username}:${p.realm}:${p.password}`);
      const ha2 = h(node, `${p.method}:${p.uri}`);
      expect(computeDigestResponse({ ...p, algorithm: alg })).toBe(h(node, `${ha1}:${p.nonce}:${ha2}`));
      expect(computeDigestResponse({ ...p, algorithm: alg, qop: 'auth', nc: '0000000a', cnonce: 'cn' }))
        .toBe(h(node, `${ha1}:${p.nonce}:0000000a:cn:auth:${ha2}`));
      const sessHa1 = h(node, `${ha1}:${p.nonce}:cn`);
      expect(computeDigestResponse({ ...p, algorithm: `${alg}-sess`, qop: 'auth', nc: '00000001', cnonce: 'cn' }))
        .toBe(h(node, `${sessHa1}:${p.nonce}:00000001:cn:auth:${ha2}`));
    });
  }

  it('parses challenges with quoted commas and unquoted tokens', () => {
    const c = parseChallenge('Digest realm="a, b", nonce="xyz", algorithm=SHA-256, qop="auth,auth-int", opaque="o", stale=TRUE');
    expect(c).toEqual({ realm: 'a, b', nonce: 'xyz', algorithm: 'SHA-256', qop: ['auth', 'auth-int'], opaque: 'o', stale: true });
    expect(parseChallenge('Digest realm="r",nonce="n"').algorithm).toBe('MD5');
    expect(() => parseChallenge('Basic realm="r"')).toThrow();
  });
});

describe('DigestServer', () => {
  afterEach(() => { vi.useRealTimers(); });

  const request = (auth?: string): SipRequest => {
    const r = new SipRequest('REGISTER', SipUri.parse('sip:conflux.test'));
    r.add('CSeq', '1 REGISTER');
    if (auth) r.add('Authorization', auth);
    return r;
  };

  for (const alg of ['MD5', 'SHA-256'] as const) {
    it(`accepts a client answer (${alg}) and rejects replays, wrong passwords and unknown users`, () => {
      const server = new DigestServer({ realm: 'conflux.test', algorithms: [alg], passwordFor: (u) => (u === 'alice' ? 'pw' : undefined) });
      const challenge = parseChallenge(server.challenges()[0] as string);
      expect(challenge.algorithm).toBe(alg);
      const client = new DigestClient([{ username: 'alice', password: 'pw' }]);
      const auth1 = client.authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(parseDigestParams(auth1).get('nc')).toBe('00000001');
      expect(server.verify(request(auth1))).toEqual({ ok: true, username: 'alice' });
      expect(server.verify(request(auth1))).toMatchObject({ ok: false, reason: 'replayed nonce count' });
      const auth2 = client.authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(parseDigestParams(auth2).get('nc')).toBe('00000002');
      expect(server.verify(request(auth2)).ok).toBe(true);
      const wrong = new DigestClient([{ username: 'alice', password: 'nope' }]).authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(server.verify(request(wrong))).toMatchObject({ ok: false, reason: 'wrong response' });
      const stranger = new DigestClient([{ username: 'mallory', password: 'pw' }]).authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(server.verify(request(stranger))).toMatchObject({ ok: false, reason: 'unknown user' });
      expect(server.verify(request())).toMatchObject({ ok: false, stale: false });
    });
  }

  it('reports stale nonces and rejects forged ones', () => {
    vi.useFakeTimers();
    const server = new DigestServer({ realm: 'r', nonceTtlMs: 1000, passwordFor: () => 'pw' });
    const challenge = parseChallenge(server.challenges()[0] as string);
    const client = new DigestClient([{ username: 'u', password: 'pw' }]);
    vi.advanceTimersByTime(2000);
    expect(server.verify(request(client.authorize(challenge, 'REGISTER', 'sip:r')))).toMatchObject({ ok: false, stale: true });
    const forged = { ...challenge, nonce: 'abc.def.ghi' };
    expect(server.verify(request(client.authorize(forged, 'REGISTER', 'sip:r')))).toMatchObject({ ok: false, reason: 'foreign nonce' });
    expect(server.challenges(true)[0]).toContain('stale=true');
  });
});
