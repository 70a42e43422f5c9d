import type { ConfluxClient } from '../sdk/ConfluxClient.js';

export type AppStatus = 'idle' | 'joining' | 'joined' | 'reconnecting' | 'left' | 'removed' | 'disconnected' | 'error';

/** What the page exposes as `window.conflux`, so automated tests can read its state. */
export interface AppHook {
  /** The client of the current (or last) session; null before the first join. */
  client: ConfluxClient | null;
  status: AppStatus;
  /** The last error shown to the user, e.g. a refused token. */
  error: string | null;
  /** How many times the page has rejoined by itself after losing the room (server restart, media restart, network). */
  reconnects: number;
}
