import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { computeDigestResponse, DigestClient, parseChallenge, parseDigestParams } from '../../../../sip-connector/sip/DigestAuth.js';
import { AuthFailureGuard } from '../../../../sip-connector/sip/AuthFailureGuard.js';
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
      expect(server.verify(request(auth1))).toMatchObject({ ok: false, reason: 'replayed' });
      const auth2 = client.authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(parseDigestParams(auth2).get('nc')).toBe('00000002');
      expect(server.verify(request(auth2)).ok).toBe(true);
      const wrong = new DigestClient([{ username: 'alice', password: 'nope' }]).authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(server.verify(request(wrong))).toMatchObject({ ok: false, reason: 'wrong-credentials' });
      const stranger = new DigestClient([{ username: 'mallory', password: 'pw' }]).authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
      expect(server.verify(request(stranger))).toMatchObject({ ok: false, reason: 'unknown-user' });
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
    expect(server.verify(request(client.authorize(forged, 'REGISTER', 'sip:r')))).toMatchObject({ ok: false, reason: 'foreign-nonce' });
    expect(server.challenges(true)[0]).toContain('stale=true');
  });

  const answer = (server: DigestServer, client: string, user = 'alice', password = 'pw'): string => {
    const challenge = parseChallenge(server.challenges(false, client)[0] as string);
    return new DigestClient([{ username: user, password }]).authorize(challenge, 'REGISTER', 'sip:conflux.test') as string;
  };

  it('refuses RFC 2069 answers without qop: they carry no nonce count and could be replayed', () => {
    const server = new DigestServer({ realm: 'conflux.test', passwordFor: () => 'pw' });
    const challenge = parseChallenge(server.challenges(false, '127.0.0.1')[0] as string);
    const noQop = new DigestClient([{ username: 'alice', password: 'pw' }]).authorize({ ...challenge, qop: [] }, 'REGISTER', 'sip:conflux.test') as string;
    expect(noQop).not.toContain('qop=');
    expect(server.verify(request(noQop), 'Authorization', '127.0.0.1')).toMatchObject({ ok: false, reason: 'qop-required' });
  });

  it('binds nonces to the client they were issued to', () => {
    const server = new DigestServer({ realm: 'conflux.test', passwordFor: () => 'pw' });
    const auth = answer(server, '127.0.0.1');
    expect(server.verify(request(auth), 'Authorization', '127.0.0.2')).toMatchObject({ ok: false, reason: 'foreign-nonce' });
    expect(server.verify(request(auth), 'Authorization', '127.0.0.1')).toEqual({ ok: true, username: 'alice' });
  });

  it('turns forgotten nonces stale instead of replayable when it tracks too many', () => {
    vi.useFakeTimers();
    const server = new DigestServer({ realm: 'conflux.test', passwordFor: () => 'pw', maxTrackedNonces: 3 });
    const first = answer(server, 'c');
    expect(server.verify(request(first), 'Authorization', 'c').ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(5);
      expect(server.verify(request(answer(server, 'c')), 'Authorization', 'c').ok).toBe(true);
    }
    expect(server.verify(request(first), 'Authorization', 'c')).toMatchObject({ ok: false, stale: true });
  });

  it('blocks a source after repeated wrong answers, even when the right password follows, and spares others', () => {
    const guard = new AuthFailureGuard({ maxFailuresPerSource: 5, maxFailuresPerUser: 100 });
    const server = new DigestServer({ realm: 'conflux.test', passwordFor: (u) => (u === 'alice' ? 'pw' : undefined), guard });
    const blocked: string[] = [];
    guard.on('blocked', (block) => blocked.push(`${block.kind}:${block.key}`));
    for (let i = 0; i < 5; i++) {
      expect(server.verify(request(answer(server, '192.0.2.9', 'alice', `guess${i}`)), 'Authorization', '192.0.2.9').ok).toBe(false);
    }
    expect(blocked).toEqual(['source:192.0.2.9']);
    expect(server.verify(request(answer(server, '192.0.2.9')), 'Authorization', '192.0.2.9')).toMatchObject({ ok: false, reason: 'blocked' });
    expect(server.verify(request(answer(server, '192.0.2.10')), 'Authorization', '192.0.2.10').ok).toBe(true);
    expect(guard.blocks).toBe(1);
  });

  it('blocks a user guessed at from many sources, except where it already authenticated', () => {
    const guard = new AuthFailureGuard({ maxFailuresPerSource: 100, maxFailuresPerUser: 4 });
    const server = new DigestServer({ realm: 'conflux.test', passwordFor: () => 'pw', guard });
    expect(server.verify(request(answer(server, 'phone')), 'Authorization', 'phone').ok).toBe(true);
    for (let i = 0; i < 4; i++) server.verify(request(answer(server, `bot${i}`, 'alice', 'x')), 'Authorization', `bot${i}`);
    expect(server.verify(request(answer(server, 'bot9')), 'Authorization', 'bot9')).toMatchObject({ ok: false, reason: 'blocked' });
    expect(server.verify(request(answer(server, 'phone')), 'Authorization', 'phone').ok).toBe(true);
    expect(server.verify(request(answer(server, 'bot9', 'bob')), 'Authorization', 'bot9').ok).toBe(true);
  });
});

describe('AuthFailureGuard', () => {
  it('backs off: each block of the same source lasts twice as long, up to the maximum', () => {
    let now = 0;
    const guard = new AuthFailureGuard({ maxFailuresPerSource: 2, blockMs: 1000, maxBlockMs: 3000 }, () => now);
    const lengths: number[] = [];
    guard.on('blocked', (block) => lengths.push(block.blockedForMs));
    for (let round = 0; round < 4; round++) {
      guard.recordFailure('s');
      guard.recordFailure('s');
      expect(guard.isBlocked('s')).toBe(true);
      now += lengths.at(-1)!;
      expect(guard.isBlocked('s')).toBe(false);
    }
    expect(lengths).toEqual([1000, 2000, 3000, 3000]);
  });

  it('forgets failures outside its window', () => {
    let now = 0;
    const guard = new AuthFailureGuard({ maxFailuresPerSource: 3, windowMs: 1000 }, () => now);
    guard.recordFailure('s');
    guard.recordFailure('s');
    now += 1500;
    guard.recordFailure('s');
    expect(guard.isBlocked('s')).toBe(false);
  });
});
