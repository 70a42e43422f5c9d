/** Event name → listener argument tuple, e.g. `{ trackAdded: [RemoteTrack]; left: [] }`. */
export type EventMap = Record<string, unknown[]>;

type Listener<Args extends unknown[]> = (...args: Args) => void;
type StoredListener = (...args: unknown[]) => void;

/**
 * A minimal typed event emitter for the browser (no Node `events` dependency).
 * A throwing listener is reported and skipped so one broken UI handler cannot stall the client.
 */
export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<StoredListener>>();

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as StoredListener);
    return () => this.off(event, listener);
  }

  /** Subscribes to the next occurrence of an event only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener as unknown as StoredListener);
  }

  /** Drops every listener, e.g. when the owning object is discarded. */
  removeAllListeners(): void {
    this.#listeners.clear();
  }

  protected safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`listener for "${String(event)}" threw`, error);
      }
    }
  }
}
