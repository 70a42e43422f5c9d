import { Worker } from 'node:worker_threads';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import type { DtmfEvent } from './DtmfDetector.js';
import type {
  MixerForward, MixerLegSpec, MixerMessage, MixerRequest, MixerSourceActivity, MixerSourceSpec, MixerStats, MixerThreadOptions,
} from './mixerProtocol.js';
import { MixerThreadError } from './MixerThreadError.js';

/** Events of a MixerThread. */
export type MixerThreadEvents = {
  /** A DTMF start or end seen on a source's RTP. */
  dtmf: [sourceId: string, event: DtmfEvent];
  /** The worker reported or hit an error it could not attribute to a request. */
  error: [error: Error];
  /** The worker is gone; every pending and later request fails. */
  exit: [code: number];
};

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };
type RequestBody = MixerRequest extends infer R ? (R extends MixerRequest ? Omit<R, 'id'> : never) : never;

const STARTUP_TIMEOUT_MS = 10_000;

/**
 * Main-thread handle of the audio mixer. The mixer (sockets, jitter buffers, codecs, 20 ms clock) lives in
 * a worker thread; this class turns requests into messages and the worker's DTMF reports into events.
 */
export class MixerThread extends TypedEmitter<MixerThreadEvents> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private closing: Promise<void> | null = null;

  private constructor(private readonly worker: Worker) {
    super();
    worker.on('message', (message: MixerMessage) => this.onMessage(message));
    worker.on('error', (error) => this.safeEmit('error', error));
    worker.on('exit', (code) => {
      this.exited = true;
      const error = new MixerThreadError(`mixer thread exited with code ${code}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      this.safeEmit('exit', code);
    });
  }

  /** Starts a mixer thread and resolves once it is ticking. */
  static async start(options: MixerThreadOptions = {}): Promise<MixerThread> {
    const self = new URL(import.meta.url);
    // From TypeScript sources the worker needs the loader registered first; built JavaScript runs directly.
    const fromSource = self.pathname.endsWith('.ts');
    const entry = new URL(fromSource ? './mixerWorker.ts' : './mixerWorker.js', self);
    const worker = fromSource
      ? new Worker(new URL('./mixerWorkerBootstrap.mjs', self), { workerData: { entry: entry.href, options } })
      : new Worker(entry, { workerData: { options } });
    const thread = new MixerThread(worker);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new MixerThreadError('mixer thread did not start in time'));
      }, STARTUP_TIMEOUT_MS);
      const onMessage = (m: MixerMessage): void => {
        if (m.type !== 'ready') return;
        cleanup();
        resolve();
      };
      const onFail = (error: Error | number): void => {
        cleanup();
        reject(error instanceof Error ? error : new MixerThreadError(`mixer thread exited with code ${error}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onFail);
        worker.off('exit', onFail);
      };
      worker.on('message', onMessage);
      worker.on('error', onFail);
      worker.on('exit', onFail);
    });
    return thread;
  }

  /** Whether the worker is still running (requests can still succeed). */
  get alive(): boolean {
    return !this.exited;
  }

  /** Adds a source; resolves with the 127.0.0.1 UDP port its RTP must be sent to. */
  addSource(spec: MixerSourceSpec): Promise<number> {
    return this.request({ op: 'addSource', spec }) as Promise<number>;
  }

  /** Removes a source and closes its socket. */
  removeSource(sourceId: string): Promise<boolean> {
    return this.request({ op: 'removeSource', sourceId }) as Promise<boolean>;
  }

  /** Adds a leg: from the next tick, its mix-minus RTP goes to `destination` every ptime. */
  addLeg(spec: MixerLegSpec): Promise<void> {
    return this.request({ op: 'addLeg', spec }) as Promise<void>;
  }

  /** Stops a leg's stream. */
  removeLeg(legId: string): Promise<boolean> {
    return this.request({ op: 'removeLeg', legId }) as Promise<boolean>;
  }

  /** Sends a DTMF key press to a leg as RFC 4733 events. */
  sendDtmf(legId: string, digit: string, durationMs?: number): Promise<void> {
    return this.request({ op: 'sendDtmf', legId, digit, durationMs }) as Promise<void>;
  }

  /** The leg's pipeline as one line, e.g. "rtp(PCMU/8000) → jitter(60ms) → … → rtp(pt=0, ptime=20)". */
  describeLeg(legId: string): Promise<string> {
    return this.request({ op: 'describeLeg', legId }) as Promise<string>;
  }

  /** Counters: frames mixed, late packets and ticks, worst tick lateness, utilization. */
  stats(): Promise<MixerStats> {
    return this.request({ op: 'stats' }) as Promise<MixerStats>;
  }

  /** Leaves a source out of every mix (its DTMF is still reported), or puts it back. */
  muteSource(sourceId: string, muted: boolean): Promise<void> {
    return this.request({ op: 'muteSource', sourceId, muted }) as Promise<void>;
  }

  /** Plays an announcement (mono PCM at `sampleRate`) to one leg. */
  playPrompt(legId: string, samples: Int16Array, sampleRate: number): Promise<void> {
    return this.request({ op: 'playPrompt', legId, samples, sampleRate }) as Promise<void>;
  }

  /** Keeps the room's mix from a leg, which then hears only prompts; or lets it through again. */
  setLegIsolated(legId: string, isolated: boolean): Promise<void> {
    return this.request({ op: 'setLegIsolated', legId, isolated }) as Promise<void>;
  }

  /** Switches a source to another codec on the same socket (a re-negotiated call); it starts unmuted. */
  updateSource(spec: MixerSourceSpec): Promise<void> {
    return this.request({ op: 'updateSource', spec }) as Promise<void>;
  }

  /** Relays a source's audio packets (SSRC rewritten) to `forward`, from a loopback socket of its own. */
  setForward(sourceId: string, forward: MixerForward): Promise<void> {
    return this.request({ op: 'setForward', sourceId, forward }) as Promise<void>;
  }

  /** Points a relay leg at the source whose packets it forwards (null: none, it sends nothing). */
  setRelaySource(legId: string, sourceId: string | null): Promise<void> {
    return this.request({ op: 'setRelaySource', legId, sourceId }) as Promise<void>;
  }

  /** Packets and idle time per source (media timeouts), with latched remote addresses. */
  sourceActivity(): Promise<MixerSourceActivity[]> {
    return this.request({ op: 'sourceActivity' }) as Promise<MixerSourceActivity[]>;
  }

  /** Stops the clock, closes every socket and terminates the thread. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.exited) {
        try {
          await this.request({ op: 'close' });
        } catch {
          // Terminating below is the fallback either way.
        }
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }

  private request(body: RequestBody): Promise<unknown> {
    if (this.exited) return Promise.reject(new MixerThreadError('mixer thread has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id } as MixerRequest);
    });
  }

  private onMessage(message: MixerMessage): void {
    switch (message.type) {
      case 'reply': {
        const p = this.pending.get(message.id);
        if (!p) return;
        this.pending.delete(message.id);
        if (message.ok) p.resolve(message.value);
        else p.reject(new MixerThreadError(message.error.message, message.error.name));
        return;
      }
      case 'dtmf':
        this.safeEmit('dtmf', message.sourceId, message.event);
        return;
      case 'error':
        this.safeEmit('error', new MixerThreadError(message.message));
        return;
      case 'ready':
        return;
    }
  }
}
