/** How long a guest token's new room counts against its address before anyone has joined it. */
const PENDING_MS = 10 * 60_000;
/** Addresses tracked at most: the oldest is forgotten first. */
const MAX_SOURCES = 10_000;

/**
 * Bounds the rooms one address creates through guest tokens (which need no API key). A token for a room that
 * does not exist yet counts as one of the address's rooms while that room lives, or for ten minutes if nobody
 * joins it; a token for a room that already exists costs nothing.
 */
export class GuestRoomQuota {
  readonly #max: number;
  readonly #exists: (room: string) => boolean;
  readonly #now: () => number;
  /** Per address: the rooms its guest tokens created (or will), with when the token was issued. */
  readonly #rooms = new Map<string, Map<string, number>>();

  constructor(max: number, exists: (room: string) => boolean, now: () => number = Date.now) {
    this.#max = max;
    this.#exists = exists;
    this.#now = now;
  }

  /** Whether `source` may have a guest token for `room`; if so, the room is counted as its own when it is new. */
  admit(source: string, room: string): boolean {
    if (this.#exists(room)) return true;
    const rooms = this.#current(source);
    if (!rooms.has(room) && rooms.size >= this.#max) return false;
    rooms.set(room, this.#now());
    this.#rooms.delete(source);
    this.#rooms.set(source, rooms);
    while (this.#rooms.size > MAX_SOURCES) this.#rooms.delete(this.#rooms.keys().next().value!);
    return true;
  }

  /** The address's rooms that still count: alive, or issued recently and not joined yet. */
  #current(source: string): Map<string, number> {
    const rooms = this.#rooms.get(source) ?? new Map<string, number>();
    const now = this.#now();
    for (const [room, issuedAt] of rooms) {
      if (!this.#exists(room) && now - issuedAt > PENDING_MS) rooms.delete(room);
    }
    return rooms;
  }
}
