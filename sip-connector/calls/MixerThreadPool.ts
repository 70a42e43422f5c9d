import type { Logger } from '../../server/logging/Logger.js';
import type { MixerThread } from '../media/MixerThread.js';
import type { MixerThreadOptions } from '../media/mixerProtocol.js';
import { RoomAudioBridge } from './RoomAudioBridge.js';

/**
 * The calls layer's mixer threads beyond the rooms' own: the spare a room whose phones all left hands back
 * (a thread takes about half a second to start, which the next room's first caller would wait for before
 * its 200 OK), and the one thread every relay bridge (gateway call) shares.
 */
export class MixerThreadPool {
  readonly #options: Omit<MixerThreadOptions, 'bindAddress'>;
  readonly #logger: Logger;
  #spare: MixerThread | null = null;
  #relay: Promise<MixerThread> | null = null;
  #closed = false;

  constructor(options: Omit<MixerThreadOptions, 'bindAddress'>, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** A thread for a room's new bridge: the spare when there is one, else a new one. */
  async forRoom(): Promise<MixerThread> {
    const spare = this.#spare;
    this.#spare = null;
    if (spare?.alive) return spare;
    return RoomAudioBridge.startMixer(this.#options);
  }

  /** Takes back a room's emptied thread as the spare (one at most; once closed, none). */
  giveBack(mixer: MixerThread): void {
    if (this.#closed || this.#spare?.alive || !mixer.alive) {
      void mixer.close();
      return;
    }
    this.#spare = mixer;
  }

  /** The thread relay bridges share, started on first use (or by `warmRelay`) and again after it died. */
  relay(): Promise<MixerThread> {
    if (!this.#relay) {
      const starting = RoomAudioBridge.startRelayMixer(this.#options);
      this.#relay = starting;
      const forget = () => {
        if (this.#relay === starting) this.#relay = null;
      };
      starting.then((mixer) => mixer.once('exit', forget), forget);
    }
    return this.#relay;
  }

  /** Starts the relay thread ahead of the first gateway call, so that call does not wait for it. */
  warmRelay(): void {
    if (this.#closed) return;
    this.relay().catch((error: unknown) => this.#logger.warn({ err: error }, 'cannot start the relay mixer'));
  }

  /** The relay thread if it is running (metrics). */
  async runningRelay(): Promise<MixerThread | undefined> {
    return this.#relay?.catch(() => undefined);
  }

  /** Stops the spare and the relay thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const relay = this.#relay;
    const spare = this.#spare;
    this.#relay = null;
    this.#spare = null;
    await relay?.then((mixer) => mixer.close(), () => undefined);
    await spare?.close();
  }
}
