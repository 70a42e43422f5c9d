import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { SignallingTestClient } from '../../support/SignallingTestClient.js';
import { api, startTestServer } from '../../support/testServer.js';

describe('REST API over real HTTP', () => {
  let server: ConfluxServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers liveness, readiness and the OpenAPI document without a key', async () => {
    expect((await api(server, 'GET', '/healthz', undefined, null)).status).toBe(200);
    const ready = await api(server, 'GET', '/readyz', undefined, null);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', expectedWorkers: 1, workers: [{ pid: expect.any(Number), routers: 0 }] });
    const doc = await (await api(server, 'GET', '/openapi.json', undefined, null)).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/rooms', '/rooms/{room}/participants', '/tokens']));
    expect(doc.paths['/rooms'].post.requestBody.content['application/json'].schema.properties.name).toBeDefined();
  });

  it('requires the API key on every API call and on metrics', async () => {
    for (const [method, route] of [['GET', '/api/v1/rooms'], ['POST', '/api/v1/tokens'], ['GET', '/metrics'],
      ['DELETE', '/api/v1/rooms/x'], ['GET', '/api/v1/nowhere']] as const) {
      const missing = await api(server, method, route, undefined, null);
      expect(missing.status, `${method} ${route}`).toBe(401);
      expect(await missing.json()).toEqual({ error: { code: 401, message: 'missing or invalid API key' } });
      expect((await api(server, method, route, undefined, 'wrong-key')).status).toBe(401);
    }
    const viaHeader = await fetch(`${server.httpUrl}/api/v1/rooms`, { headers: { 'x-api-key': 'test-api-key' } });
    expect(viaHeader.status).toBe(200);
    const metrics = await (await api(server, 'GET', '/metrics')).text();
    expect(metrics).toMatch(/^conflux_auth_failures_total\{surface="api",reason="missing-key"\} 5$/m);
    expect(metrics).toMatch(/^conflux_auth_failures_total\{surface="api",reason="invalid-key"\} 5$/m);
  });

  it('creates, lists, gets and deletes rooms', async () => {
    const created = await api(server, 'POST', '/api/v1/rooms', { name: 'standup', maxParticipants: 5 });
    expect(created.status).toBe(201);
    expect((await created.json()).room).toMatchObject({ name: 'standup', numParticipants: 0, maxParticipants: 5 });
    expect((await api(server, 'POST', '/api/v1/rooms', { name: 'standup' })).status).toBe(200);
    expect((await api(server, 'POST', '/api/v1/rooms', { name: 'standup', maxParticipants: 5 })).status).toBe(200);
    // Other options for a room that exists are refused, not ignored.
    const other = await api(server, 'POST', '/api/v1/rooms', { name: 'standup', maxParticipants: 50 });
    expect(other.status).toBe(409);
    expect((await other.json()).error.message).toBe('room standup exists with maxParticipants 5: leave the option out, or delete the room first');
    const list = await (await api(server, 'GET', '/api/v1/rooms')).json();
    expect(list.rooms.map((room: { name: string }) => room.name)).toContain('standup');
    expect((await api(server, 'GET', '/api/v1/rooms/standup')).status).toBe(200);
    expect((await api(server, 'DELETE', '/api/v1/rooms/standup')).status).toBe(204);
    const gone = await api(server, 'GET', '/api/v1/rooms/standup');
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: { code: 404, message: 'room standup not found' } });
  });

  it('answers bad input with 4xx and a JSON error body', async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/api/v1/rooms', '{not json', 400, /malformed JSON/],
      ['POST', '/api/v1/rooms', { name: '../etc' }, 400, /name/],
      ['POST', '/api/v1/rooms', { name: 'ok', extra: 1 }, 400, /extra|Unrecognized/i],
      ['POST', '/api/v1/rooms', { name: 'ok', maxParticipants: -1 }, 400, /maxParticipants/],
      ['POST', '/api/v1/tokens', { room: 'r' }, 400, /identity/],
      ['POST', '/api/v1/tokens', { room: 'r', identity: 'has space' }, 400, /whitespace/],
      ['POST', '/api/v1/rooms', { name: 'x'.repeat(70_000) }, 413, /too large/],
      ['GET', '/api/v1/rooms/none/participants', undefined, 404, /not found/],
      ['DELETE', '/api/v1/rooms/none/participants/p', undefined, 404, /not found/],
      ['GET', '/api/v1/unknown', undefined, 404, /no route/],
    ];
    for (const [method, route, body, status, message] of cases) {
      const response = await api(server, method, route, body);
      expect(response.status, `${method} ${route}`).toBe(status);
      const json = await response.json();
      expect(json.error.code).toBe(status);
      expect(json.error.message).toMatch(message);
    }
  });

  it('issues join tokens that admit to the room, kicks and mutes participants', async () => {
    const issued = await api(server, 'POST', '/api/v1/tokens', { room: 'ops', identity: 'alice', name: 'Alice' });
    expect(issued.status).toBe(201);
    const { token, url } = await issued.json();
    expect(url).toBe(`/?token=${encodeURIComponent(token)}`);
    const alice = await SignallingTestClient.connect(server.httpUrl);
    const joined = await alice.call<{ roomId: string; participantId: string }>('join', { token });
    expect(joined.roomId).toBe('ops');
    const send = await alice.call<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    const { OPUS_RTP_PARAMETERS } = await import('../../support/SignallingTestClient.js');
    const produced = await alice.call<{ id: string }>('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS });

    const listed = await (await api(server, 'GET', '/api/v1/rooms/ops/participants')).json();
    expect(listed.participants).toHaveLength(1);
    expect(listed.participants[0]).toMatchObject({
      id: joined.participantId, identity: 'alice', displayName: 'Alice', kind: 'webrtc',
      producers: [{ id: produced.id, kind: 'audio', source: 'mic', paused: false }],
    });

    const muted = await api(server, 'POST', `/api/v1/rooms/ops/participants/${joined.participantId}/mute`, { kind: 'audio', muted: true });
    expect(muted.status).toBe(200);
    expect((await muted.json()).participant.producers[0].paused).toBe(true);
    await alice.waitFor('producerPaused', (data) => data.producerId === produced.id);
    expect((await api(server, 'POST', `/api/v1/rooms/ops/participants/${joined.participantId}/mute`, { kind: 'video', muted: true })).status).toBe(404);
    expect((await api(server, 'POST', `/api/v1/rooms/ops/participants/${joined.participantId}/mute`, { muted: true })).status).toBe(400);

    expect((await api(server, 'DELETE', `/api/v1/rooms/ops/participants/${joined.participantId}`)).status).toBe(204);
    expect(await alice.waitFor('removed')).toEqual({ reason: 'kicked' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alice.closeCode).toBe(4000);
    expect((await (await api(server, 'GET', '/api/v1/rooms/ops/participants')).json()).participants).toEqual([]);
  });

  it('guest tokens work only while guest join is enabled', async () => {
    const guest = await api(server, 'POST', '/api/v1/guest-tokens', { room: 'lobby', name: 'Visitor' }, null);
    expect(guest.status).toBe(201);
    const body = await guest.json();
    expect(body.identity).toMatch(/^guest-/);
    expect((await server.tokens.verify(body.token)).room).toBe('lobby');
    expect((await api(server, 'POST', '/api/v1/guest-tokens', { room: 'lobby' }, null)).status).toBe(400);
    // A name as people type it stands for the room id it maps to; one without a letter or digit is refused.
    const typed = await (await api(server, 'POST', '/api/v1/guest-tokens', { room: 'Équipe du lundi', name: 'V' }, null)).json();
    expect(typed.room).toBe('Equipe-du-lundi');
    expect((await server.tokens.verify(typed.token)).room).toBe('Equipe-du-lundi');
    const refused = await api(server, 'POST', '/api/v1/guest-tokens', { room: '!!!', name: 'V' }, null);
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.message).toMatch(/needs at least one letter or digit/);
  });

  it('exports Prometheus metrics of rooms, participants and workers', async () => {
    await api(server, 'POST', '/api/v1/rooms', { name: 'metered' });
    const response = await api(server, 'GET', '/metrics');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^conflux_rooms \d+$/m);
    expect(Number(/^conflux_rooms (\d+)$/m.exec(text)![1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^conflux_participants \d+$/m);
    expect(text).toMatch(/^conflux_consumers \d+$/m);
    expect(text).toMatch(/^conflux_worker_cpu_seconds_total\{pid="\d+",mode="user"\} [\d.e-]+$/m);
    expect(text).toMatch(/^conflux_worker_max_rss_bytes\{pid="\d+"\} [1-9]\d*$/m);
  });
});

describe('guest join disabled', () => {
  it('refuses guest tokens with 403', async () => {
    const server = await startTestServer({ auth: { guestJoin: false } });
    try {
      const response = await api(server, 'POST', '/api/v1/guest-tokens', { room: 'lobby', name: 'V' }, null);
      expect(response.status).toBe(403);
      expect((await response.json()).error.message).toMatch(/disabled/);
    } finally {
      await server.close();
    }
  });
});
