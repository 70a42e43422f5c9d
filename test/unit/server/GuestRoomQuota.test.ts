import { describe, expect, it } from 'vitest';
import { GuestRoomQuota } from '../../../server/api/GuestRoomQuota.js';

describe('GuestRoomQuota', () => {
  it('counts an address\'s new rooms while they live or for ten minutes unjoined, and never existing rooms', () => {
    const alive = new Set<string>(['lobby']);
    let now = 0;
    const quota = new GuestRoomQuota(2, (room) => alive.has(room), () => now);
    expect(quota.admit('192.0.2.1', 'a')).toBe(true);
    expect(quota.admit('192.0.2.1', 'b')).toBe(true);
    expect(quota.admit('192.0.2.1', 'c')).toBe(false);
    expect(quota.admit('192.0.2.1', 'lobby')).toBe(true);
    // Another address has its own count.
    expect(quota.admit('192.0.2.2', 'c')).toBe(true);
    // Room a is joined (it lives), b never is: after ten minutes only a still counts.
    alive.add('a');
    now += 10 * 60_000 + 1;
    expect(quota.admit('192.0.2.1', 'c')).toBe(true);
    expect(quota.admit('192.0.2.1', 'd')).toBe(false);
    // Once room a closes, it no longer counts either.
    alive.delete('a');
    now += 10 * 60_000 + 1;
    expect(quota.admit('192.0.2.1', 'd')).toBe(true);
  });
});
