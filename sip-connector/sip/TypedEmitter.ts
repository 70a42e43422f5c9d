import { EventEmitter } from 'node:events';

/** Event name → listener argument tuple, e.g. `{ closed: [reason: string] }`. */
export type EventMap = Record<string, unknown[]>;

/**
 * EventEmitter with a typed event map. `safeEmit` isolates the emitter from a throwing listener:
 * a bug in one consumer must not unwind the protocol state machine or media path that emitted.
 */
export class TypedEmitter<E extends EventMap> extends EventEmitter {
  override emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    return super.emit(event, ...args);
  }

  /** Emits and reports a listener's exception through `onListenerError` instead of throwing. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (error) {
      this.onListenerError(event, error);
      return true;
    }
  }

  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** Called when a listener throws inside `safeEmit`; override to log. */
  protected onListenerError(event: string, error: unknown): void {
    console.error(`listener for "${event}" threw`, error);
  }
}
