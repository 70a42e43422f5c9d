import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { OPUS_RTP_PARAMETERS, SignallingTestClient } from '../../support/SignallingTestClient.js';
import { api, startTestServer } from '../../support/testServer.js';

describe('WebSocket signalling against a running server', () => {
  let server: ConfluxServer;
  const clients: SignallingTestClient[] = [];
  const connect = async () => {
    const client = await SignallingTestClient.connect(server.httpUrl);
    clients.push(client);
    return client;
  };
  const token = async (room: string, identity: string) => (await server.tokens.issue({ room, identity, name: identity })).token;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  it('refuses bad tokens and requests before join', async () => {
    const client = await connect();
    const early = await client.request('createWebRtcTransport', { direction: 'send' });
    expect(early).toMatchObject({ ok: false, error: { code: 409, message: 'join first' } });
    const bad = await client.request('join', { token: 'garbage' });
    expect(bad).toMatchObject({ ok: false, error: { code: 401 } });
    const forged = await client.request('join', { token: (await token('r', 'x')).slice(0, -4) + 'AAAA' });
    expect(forged).toMatchObject({ ok: false, error: { code: 401 } });
    expect(server.rooms.find('r')).toBeUndefined();
  });

  it('counts each refused join under its reason in /metrics', async () => {
    const metric = async (reason: string) => Number(new RegExp(`^conflux_join_failures_total\\{reason="${reason}"\\} (\\S+)$`, 'm')
      .exec(await (await api(server, 'GET', '/metrics')).text())?.[1] ?? 0);
    const before = { invalid: await metric('token-invalid'), expired: await metric('token-expired'), full: await metric('room-full') };
    const client = await connect();
    expect(await client.request('join', { token: 'garbage' })).toMatchObject({ ok: false, error: { code: 401 } });
    const expired = (await server.tokens.issue({ room: 'late', identity: 'lou', name: 'lou' }, -60)).token;
    expect(await client.request('join', { token: expired })).toMatchObject({ ok: false, error: { code: 401, message: 'join token expired' } });
    await server.rooms.getOrCreate('tiny', { maxParticipants: 1 });
    await client.call('join', { token: await token('tiny', 'first') });
    const second = await connect();
    expect(await second.request('join', { token: await token('tiny', 'second') })).toMatchObject({ ok: false, error: { code: 503 } });
    expect(await metric('token-invalid')).toBe(before.invalid + 1);
    expect(await metric('token-expired')).toBe(before.expired + 1);
    expect(await metric('room-full')).toBe(before.full + 1);
  });

  it('carries chat to everyone in the room, keeps it for late joiners, and refuses bad or too many messages', async () => {
    const ann = await connect();
    await ann.call('join', { token: await token('talk', 'ann') });
    const bob = await connect();
    await bob.call('join', { token: await token('talk', 'bob') });
    expect(await ann.call('sendChat', { text: '  hello <b>bob</b>\nsecond line ' })).toMatchObject({ id: 1 });
    const heard = await bob.waitFor('chatMessage');
    expect(heard).toMatchObject({ id: 1, identity: 'ann', displayName: 'ann', text: 'hello <b>bob</b>\nsecond line' });
    expect(await ann.waitFor('chatMessage')).toMatchObject({ id: 1 });
    for (const text of ['', '   ', 'x'.repeat(2001), 'bell\u0007']) {
      expect(await ann.request('sendChat', { text })).toMatchObject({ ok: false, error: { code: 400 } });
    }
    // Four more fill ann's burst of five; the sixth is refused and not kept.
    for (let i = 2; i <= 5; i++) await ann.call('sendChat', { text: `m${i}` });
    expect(await ann.request('sendChat', { text: 'flood' })).toMatchObject({ ok: false, error: { code: 429 } });
    const late = await connect();
    const joined = await late.call<{ chat: Array<{ text: string }> }>('join', { token: await token('talk', 'cy') });
    expect(joined.chat.map((message) => message.text)).toEqual(['hello <b>bob</b>\nsecond line', 'm2', 'm3', 'm4', 'm5']);
  });

  it('lets a host (a roomAdmin token) mute and remove the others, and nobody else', async () => {
    const hostToken = (await server.tokens.issue({ room: 'hosted', identity: 'hana', name: 'Hana', roomAdmin: true })).token;
    const host = await connect();
    const hostJoined = await host.call<{ participantId: string; roomAdmin: boolean }>('join', { token: hostToken });
    expect(hostJoined.roomAdmin).toBe(true);
    const guest = await connect();
    const guestJoined = await guest.call<{ participantId: string; roomAdmin: boolean }>('join', { token: await token('hosted', 'gus') });
    expect(guestJoined.roomAdmin).toBe(false);
    const send = await guest.call<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    const { id: producerId } = await guest.call<{ id: string }>('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS });
    // The guest may not act on the host; the host may not act on someone who is not there, nor on itself this way.
    expect(await guest.request('muteParticipant', { participantId: hostJoined.participantId, kind: 'audio', muted: true }))
      .toMatchObject({ ok: false, error: { code: 403 } });
    expect(await guest.request('removeParticipant', { participantId: hostJoined.participantId })).toMatchObject({ ok: false, error: { code: 403 } });
    expect(await host.request('removeParticipant', { participantId: 'nobody' })).toMatchObject({ ok: false, error: { code: 404 } });
    expect(await host.request('removeParticipant', { participantId: hostJoined.participantId })).toMatchObject({ ok: false, error: { code: 400 } });
    await host.call('muteParticipant', { participantId: guestJoined.participantId, kind: 'audio', muted: true });
    // The guest's own session is told, so its page can show it.
    expect(await guest.waitFor('producerPaused', (data) => data.producerId === producerId)).toMatchObject({ participantId: guestJoined.participantId });
    await host.call('removeParticipant', { participantId: guestJoined.participantId });
    expect(await guest.waitFor('removed')).toEqual({ reason: 'kicked' });
    expect(server.rooms.get('hosted').participants.map((p) => p.identity)).toEqual(['hana']);
  });

  it('survives malformed frames, unknown methods, bad data and oversized messages', async () => {
    const client = await connect();
    client.socket.send('{ not json');
    client.socket.send(JSON.stringify({ hello: 'world' }));
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.strayErrors).toHaveLength(3);
    expect(client.strayErrors.every((frame) => frame.ok === false && frame.error?.code === 400)).toBe(true);
    expect(await client.request('explode', {})).toMatchObject({ ok: false, error: { code: 404 } });
    expect(await client.request('__proto__', {})).toMatchObject({ ok: false, error: { code: 404 } });
    expect(await client.request('join', { token: 42 })).toMatchObject({ ok: false, error: { code: 400 } });
    await client.call('join', { token: await token('sturdy', 'sam') });
    expect(await client.request('produce', { transportId: 'nope', kind: 'audio', rtpParameters: {} }))
      .toMatchObject({ ok: false, error: { code: 404 } });
    const send = await client.call<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    const badRtp = await client.request('produce', { transportId: send.id, kind: 'audio', rtpParameters: { codecs: 'x' } });
    expect(badRtp).toMatchObject({ ok: false, error: { code: 400 } });
    // Concurrent requests cannot overshoot the per-participant cap of 4 transports (one exists already).
    const burst = await Promise.all(Array.from({ length: 20 }, () => client.request('createWebRtcTransport', { direction: 'recv' })));
    expect(burst.filter((frame) => frame.ok)).toHaveLength(3);
    expect(burst.filter((frame) => !frame.ok).every((frame) => frame.error?.code === 503)).toBe(true);
    expect(server.rooms.get('sturdy').participants[0]!.transports.size).toBe(4);
    expect(await client.request('join', { token: await token('sturdy', 'sam2') })).toMatchObject({ ok: false, error: { code: 409 } });

    // Larger than the frame limit: ws closes that socket with 1009; the server and other sockets live on.
    const other = await connect();
    other.socket.send(JSON.stringify({ id: 1, method: 'join', data: { token: 'x'.repeat(70 * 1024) } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(other.closeCode).toBe(1009);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(await client.request('getRouterRtpCapabilities', {})).toMatchObject({ ok: true });
    expect(server.rooms.get('sturdy').participants).toHaveLength(1);
  });

  it('runs join → produce → consume (paused until resumed) → leave with notifications', async () => {
    const alice = await connect();
    const bob = await connect();
    const aliceJoin = await alice.call<{ participantId: string; participants: unknown[]; routerRtpCapabilities: { codecs: unknown[] } }>(
      'join', { token: await token('flow', 'alice') });
    expect(aliceJoin.participants).toEqual([]);
    expect(aliceJoin.routerRtpCapabilities.codecs.length).toBeGreaterThan(3);
    const send = await alice.call<{ id: string; iceCandidates: Array<{ ip: string }> }>('createWebRtcTransport', { direction: 'send' });
    expect(send.iceCandidates.every((candidate) => candidate.ip === '127.0.0.1')).toBe(true);
    const producer = await alice.call<{ id: string }>('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS });

    const bobJoin = await bob.call<{ participantId: string; participants: Array<{ identity: string; producers: Array<{ id: string }> }>; routerRtpCapabilities: unknown }>(
      'join', { token: await token('flow', 'bob'), displayName: 'Bobby' });
    expect(bobJoin.participants).toHaveLength(1);
    expect(bobJoin.participants[0]!.producers.map((p) => p.id)).toEqual([producer.id]);
    const joined = await alice.waitFor('participantJoined');
    expect(joined.participant).toMatchObject({ identity: 'bob', displayName: 'Bobby', kind: 'webrtc' });

    const recv = await bob.call<{ id: string }>('createWebRtcTransport', { direction: 'recv', forceTcp: true });
    const wrongCaps = await bob.request('consume', { transportId: recv.id, producerId: producer.id, rtpCapabilities: { codecs: [] } });
    expect(wrongCaps).toMatchObject({ ok: false, error: { code: 422 } });
    const consumer = await bob.call<{ id: string; kind: string; participantId: string }>('consume', {
      transportId: recv.id, producerId: producer.id, rtpCapabilities: bobJoin.routerRtpCapabilities,
    });
    expect(consumer).toMatchObject({ kind: 'audio', participantId: aliceJoin.participantId });
    const serverConsumer = server.rooms.get('flow').getParticipant(bobJoin.participantId).getConsumer(consumer.id);
    expect(serverConsumer.paused).toBe(true);
    await bob.call('resumeConsumer', { consumerId: consumer.id });
    expect(serverConsumer.paused).toBe(false);
    expect(await alice.request('consume', { transportId: send.id, producerId: producer.id, rtpCapabilities: aliceJoin.routerRtpCapabilities }))
      .toMatchObject({ ok: false, error: { code: 409 } });

    const second = await alice.call<{ id: string }>('produce', { transportId: send.id, kind: 'audio', rtpParameters: { ...OPUS_RTP_PARAMETERS, encodings: [{ ssrc: 2222 }] }, source: 'screen-audio' });
    const announced = await bob.waitFor('newProducer');
    expect(announced).toMatchObject({ participantId: aliceJoin.participantId, producer: { id: second.id, source: 'screen-audio' } });
    await alice.call('closeProducer', { producerId: second.id });
    expect(await bob.waitFor('producerClosed')).toMatchObject({ producerId: second.id });

    await alice.call('leave');
    expect(await bob.waitFor('participantLeft')).toEqual({ participantId: aliceJoin.participantId });
    expect(await bob.waitFor('consumerClosed')).toEqual({ consumerId: consumer.id });
    expect(server.rooms.get('flow').participants.map((p) => p.identity)).toEqual(['bob']);
    bob.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.rooms.get('flow').participants).toEqual([]);
  });
});
