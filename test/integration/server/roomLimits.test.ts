import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { api, startTestServer } from '../../support/testServer.js';

describe('what one node and one address may create: rooms, guest tokens; rooms listed a page at a time', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ rooms: { maxRooms: 5 }, auth: { guestTokensPerMinute: 3 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a room past the node\'s room limit with 503 and a JSON error, and serves again once one closes', async () => {
    for (const name of ['a1', 'a2', 'b1', 'b2', 'c1']) expect((await api(server, 'POST', '/api/v1/rooms', { name })).status).toBe(201);
    const refused = await api(server, 'POST', '/api/v1/rooms', { name: 'c2' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: { code: 503, message: 'room limit of this server reached' } });
    // Existing rooms are still reachable by name.
    expect((await api(server, 'POST', '/api/v1/rooms', { name: 'a1' })).status).toBe(200);
    expect((await api(server, 'DELETE', '/api/v1/rooms/c1')).status).toBe(204);
    expect((await api(server, 'POST', '/api/v1/rooms', { name: 'c2' })).status).toBe(201);
  });

  it('lists rooms a page at a time in name order', async () => {
    const names: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 5; pages++) {
      const query: string = after ? `?limit=2&after=${after}` : '?limit=2';
      const page = await (await api(server, 'GET', `/api/v1/rooms${query}`)).json() as { rooms: Array<{ name: string }>; next: string | null };
      expect(page.rooms.length).toBeLessThanOrEqual(2);
      names.push(...page.rooms.map((room) => room.name));
      after = page.next;
      if (after === null) break;
    }
    expect(names).toEqual(['a1', 'a2', 'b1', 'b2', 'c2']);
    expect((await api(server, 'GET', '/api/v1/rooms?limit=0')).status).toBe(400);
    expect((await api(server, 'GET', '/api/v1/rooms?limit=5000')).status).toBe(400);
    expect((await api(server, 'GET', '/api/v1/rooms?after=../x')).status).toBe(400);
  });

  it('lets one address fetch guest tokens up to its rate, then answers 429 with Retry-After', async () => {
    const fetchGuest = () => api(server, 'POST', '/api/v1/guest-tokens', { room: 'a1', name: 'Visitor' }, null);
    for (let i = 0; i < 3; i++) expect((await fetchGuest()).status).toBe(201);
    const limited = await fetchGuest();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('20');
    expect((await limited.json()).error.message).toMatch(/too many guest tokens/);
  });
});

describe('guest tokens cannot create rooms without bound: rooms per address', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer({ auth: { guestTokensPerMinute: 1000, guestRoomsPerSource: 2 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lets one address open two new rooms with guest tokens, then answers 429; existing rooms stay open to it', async () => {
    const guest = (room: string) => api(server, 'POST', '/api/v1/guest-tokens', { room, name: 'Visitor' }, null);
    expect((await guest('new-1')).status).toBe(201);
    expect((await guest('new-2')).status).toBe(201);
    // The same new room again costs nothing more.
    expect((await guest('new-1')).status).toBe(201);
    const refused = await guest('new-3');
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.message).toMatch(/too many new rooms from this address/);
    // A room that exists (made with the API key) is open to guests whatever their count.
    expect((await api(server, 'POST', '/api/v1/rooms', { name: 'lobby' })).status).toBe(201);
    expect((await guest('lobby')).status).toBe(201);
  });
});

