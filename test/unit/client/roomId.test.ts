import { describe, expect, it } from 'vitest';
import { roomIdOf } from '../../../client/sdk/roomId.js';
import { ROOM_NAME_PATTERN } from '../../../server/rooms/RoomRegistry.js';

describe('roomIdOf: the room id a typed name stands for', () => {
  it('keeps a valid id as it is', () => {
    for (const id of ['standup', 'Team-2', 'a.b_c-d', 'x'.repeat(64)]) expect(roomIdOf(id)).toBe(id);
  });

  it('drops accents, turns other runs into one dash, trims, and stays within 64 characters', () => {
    expect(roomIdOf('Équipe du lundi')).toBe('Equipe-du-lundi');
    expect(roomIdOf('  Weekly sync / Q4!  ')).toBe('Weekly-sync-Q4');
    expect(roomIdOf('--hidden')).toBe('hidden');
    expect(roomIdOf('Ærø straße')).toBe('AEro-strasse');
    const long = roomIdOf(`${'a'.repeat(63)} b c`);
    expect(long).toBe('a'.repeat(63));
  });

  it('gives only ids the server accepts, or nothing when there is no letter or digit', () => {
    for (const name of ['Équipe du lundi', 'room #1', '日本語 meeting', '..x..', 'a'.repeat(300), '-_-a']) {
      expect(roomIdOf(name)).toMatch(ROOM_NAME_PATTERN);
    }
    for (const name of ['', '   ', '!!!', '日本語', '---']) expect(roomIdOf(name)).toBe('');
  });
});
