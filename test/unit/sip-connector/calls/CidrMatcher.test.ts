import { describe, expect, it } from 'vitest';
import { CidrMatcher, parseCidr } from '../../../../sip-connector/calls/CidrMatcher.js';

describe('CidrMatcher', () => {
  it('matches IPv4 blocks and bare addresses', () => {
    const matcher = new CidrMatcher(['10.0.0.0/8', '192.0.2.17', '198.51.100.0/25']);
    expect(matcher.matches('10.200.3.4')).toBe(true);
    expect(matcher.matches('11.0.0.1')).toBe(false);
    expect(matcher.matches('192.0.2.17')).toBe(true);
    expect(matcher.matches('192.0.2.18')).toBe(false);
    expect(matcher.matches('198.51.100.127')).toBe(true);
    expect(matcher.matches('198.51.100.128')).toBe(false);
    expect(matcher.matches('::ffff:10.1.1.1')).toBe(true);
  });

  it('matches IPv6 blocks and keeps families apart', () => {
    const matcher = new CidrMatcher(['2001:db8::/32', '::1']);
    expect(matcher.matches('2001:db8:ffff::1')).toBe(true);
    expect(matcher.matches('2001:db9::1')).toBe(false);
    expect(matcher.matches('::1')).toBe(true);
    expect(matcher.matches('127.0.0.1')).toBe(false);
    expect(new CidrMatcher(['0.0.0.0/0']).matches('::1')).toBe(false);
    expect(new CidrMatcher(['::/0']).matches('fe80::1')).toBe(true);
  });

  it('rejects malformed blocks and never matches garbage sources', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'host.example', '::1/129', '10.0.0.0/8/1', '', '1.2.3.4/x']) {
      expect(parseCidr(bad), bad).toBeNull();
    }
    expect(() => new CidrMatcher(['nope'])).toThrow(TypeError);
    expect(new CidrMatcher(['0.0.0.0/0']).matches('not-an-ip')).toBe(false);
  });
});
