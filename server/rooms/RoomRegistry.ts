import { createLogger } from '../logging/Logger.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import { BadRequestError, CapacityError, NotFoundError } from '../errors.js';
import type { WorkerPool } from '../workers/WorkerPool.js';
import { roomMediaCodecs, type CodecNumbering } from './mediaCodecs.js';
import { Room } from './Room.js';
import type { RoomOptions } from './RoomTypes.js';

const logger = createLogger('room-registry');

/** Room names appear in URLs, SIP URIs and logs: keep them to a safe alphabet. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function assertRoomName(name: string): void {
  if (!ROOM_NAME_PATTERN.test(name)) {
    throw new BadRequestError('room name must be 1-64 characters of letters, digits, "_", "." or "-"');
  }
}

export type RoomRegistryEvents = { roomcreated: [room: Room] };

/** The rooms of this node, in process memory. */
export class RoomRegistry extends TypedEmitter<RoomRegistryEvents> {
  readonly #rooms = new Map<string, Room>();
  /** Rooms being created, so two concurrent joins of a new room share one router. */
  readonly #pending = new Map<string, Promise<Room>>();
  readonly #pool: WorkerPool;
  readonly #defaults: RoomOptions;
  readonly #maxRooms: number;

  /** `maxRooms`: rooms open at once on this node; creating one more is refused (503 in HTTP, 486 in SIP). */
  constructor(pool: WorkerPool, defaults: RoomOptions, maxRooms = Number.POSITIVE_INFINITY) {
    super();
    this.#pool = pool;
    this.#defaults = defaults;
    this.#maxRooms = maxRooms;
  }

  list(): Room[] {
    return [...this.#rooms.values()];
  }

  /** Up to `limit` rooms in name order, starting after the room named `after`. */
  page(limit: number, after?: string): { rooms: Room[]; next: string | null } {
    const names = [...this.#rooms.keys()].sort().filter((name) => after === undefined || name > after);
    const rooms = names.slice(0, limit).map((name) => this.#rooms.get(name)!);
    return { rooms, next: names.length > limit ? rooms.at(-1)!.name : null };
  }

  find(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  get(name: string): Room {
    const room = this.#rooms.get(name);
    if (!room) throw new NotFoundError(`room ${name} not found`);
    return room;
  }

  /**
   * The room, created if it does not exist yet; `created` tells which. `opusPayloadType` and `video` number a
   * new room's router codecs (for a private call whose far end numbers them so); an existing room keeps its own.
   */
  async getOrCreate(name: string, options: Partial<RoomOptions> & CodecNumbering = {}): Promise<{ room: Room; created: boolean }> {
    assertRoomName(name);
    const existing = this.#rooms.get(name);
    if (existing) return { room: existing, created: false };
    const pending = this.#pending.get(name);
    if (pending) return { room: await pending, created: false };
    if (this.#rooms.size + this.#pending.size >= this.#maxRooms) throw new CapacityError('room limit of this server reached');
    const { opusPayloadType, video, ...roomOptions } = options;
    const numbering: CodecNumbering = { ...(opusPayloadType !== undefined ? { opusPayloadType } : {}), ...(video ? { video } : {}) };
    const creation = Room.create(name, () => this.#pool.createRouter({ mediaCodecs: roomMediaCodecs(numbering) }), {
      ...this.#defaults, ...roomOptions,
    });
    this.#pending.set(name, creation);
    try {
      const room = await creation;
      this.#rooms.set(name, room);
      room.once('close', () => {
        if (this.#rooms.get(name) === room) this.#rooms.delete(name);
      });
      logger.info({ roomId: name }, 'room created');
      this.safeEmit('roomcreated', room);
      return { room, created: true };
    } finally {
      this.#pending.delete(name);
    }
  }

  /** Closes a room and removes everyone in it. */
  delete(name: string): void {
    this.get(name).close('room-closed');
  }

  closeAll(): void {
    for (const room of this.list()) room.close('server-shutdown');
  }
}
