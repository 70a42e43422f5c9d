import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapacityError, NotFoundError } from '../../../server/errors.js';
import { RoomRegistry } from '../../../server/rooms/RoomRegistry.js';
import { WorkerPool } from '../../../server/workers/WorkerPool.js';

describe('rooms on real mediasoup workers', () => {
  let pool: WorkerPool;
  let rooms: RoomRegistry;

  beforeAll(async () => {
    pool = await WorkerPool.start({ numWorkers: 2, logLevel: 'error' });
    rooms = new RoomRegistry(pool, { emptyTimeoutSeconds: 60, maxParticipants: 2 });
  });
  afterAll(() => {
    rooms.closeAll();
    pool.close();
  });

  it('spreads rooms across workers and shares one room between concurrent creators', async () => {
    const [a, b] = await Promise.all([rooms.getOrCreate('spread-a'), rooms.getOrCreate('spread-a')]);
    expect(a.room).toBe(b.room);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    await rooms.getOrCreate('spread-b');
    const loads = pool.load().map((load) => load.routers);
    expect(loads).toHaveLength(2);
    expect(loads.every((routers) => routers >= 1)).toBe(true);
    rooms.delete('spread-a');
    rooms.delete('spread-b');
    expect(pool.load().map((load) => load.routers)).toEqual([0, 0]);
  });

  it('offers the phone and browser codecs on every router', async () => {
    const { room } = await rooms.getOrCreate('codecs');
    const mimeTypes = room.router.rtpCapabilities.codecs!.map((codec) => codec.mimeType);
    for (const mime of ['audio/opus', 'audio/PCMU', 'audio/PCMA', 'audio/G722', 'video/VP8', 'video/VP9', 'video/H264']) {
      expect(mimeTypes).toContain(mime);
    }
    room.close();
  });

  it('replaces a duplicate identity and enforces the participant limit', async () => {
    const { room } = await rooms.getOrCreate('limits');
    const reasons: string[] = [];
    room.on('participantleft', (_id, reason) => reasons.push(reason));
    const first = room.join({ identity: 'alice', displayName: 'Alice', kind: 'webrtc' });
    const again = room.join({ identity: 'alice', displayName: 'Alice', kind: 'webrtc' });
    expect(first.closed).toBe(true);
    expect(reasons).toEqual(['duplicate-identity']);
    room.join({ identity: 'bob', displayName: 'Bob', kind: 'webrtc' });
    expect(() => room.join({ identity: 'carol', displayName: 'Carol', kind: 'webrtc' })).toThrow(CapacityError);
    expect(room.participants.map((p) => p.identity).sort()).toEqual(['alice', 'bob']);
    room.remove(again.id, 'kicked');
    expect(reasons).toEqual(['duplicate-identity', 'kicked']);
    expect(() => room.remove(again.id, 'kicked')).toThrow(NotFoundError);
    room.close();
  });

  it('closes a room once it has been empty for the grace period, not before', async () => {
    const { room } = await rooms.getOrCreate('grace', { emptyTimeoutSeconds: 1 });
    const participant = room.join({ identity: 'dave', displayName: 'Dave', kind: 'webrtc' });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(room.closed).toBe(false);
    participant.close('left');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(room.closed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(room.closed).toBe(true);
    expect(room.router.closed).toBe(true);
    expect(rooms.find('grace')).toBeUndefined();
  });

  it('a reserved seat keeps an empty room open past the grace period until it is released', async () => {
    const { room } = await rooms.getOrCreate('held', { emptyTimeoutSeconds: 1 });
    const seat = room.reserveSeat();
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(room.closed).toBe(false);
    seat.release();
    seat.release();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(room.closed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(room.closed).toBe(true);
  });

  it('reserved seats count against the room\'s capacity until they are taken or released', async () => {
    const { room } = await rooms.getOrCreate('two-seats', { maxParticipants: 2 });
    const first = room.reserveSeat();
    room.join({ identity: 'fay', displayName: 'Fay', kind: 'webrtc' });
    expect(() => room.reserveSeat()).toThrow(CapacityError);
    expect(() => room.join({ identity: 'gus', displayName: 'Gus', kind: 'webrtc' })).toThrow(CapacityError);
    // The seat's holder gets in, and its seat is then given up: the room is full with two participants.
    room.join({ identity: 'hal', displayName: 'Hal', kind: 'sip' }, first);
    expect(first.held).toBe(false);
    expect(room.participants).toHaveLength(2);
    expect(() => room.reserveSeat()).toThrow(CapacityError);
    room.participants[0]!.close('left');
    const again = room.reserveSeat();
    again.release();
    expect(room.reserveSeat().held).toBe(true);
  });

  it('closing a room closes its participants and their transports', async () => {
    const { room } = await rooms.getOrCreate('teardown');
    const participant = room.join({ identity: 'erin', displayName: 'Erin', kind: 'webrtc' });
    const transport = await participant.createWebRtcTransport({
      listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', minPort: 40000, maxPort: 49999, enableTcp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
    }, 'send');
    room.close();
    expect(participant.closed).toBe(true);
    expect(transport.closed).toBe(true);
    expect(participant.transports.size).toBe(0);
  });
});
