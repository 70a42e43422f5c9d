import type {
  NotificationData,
  NotificationMethod,
  RequestData,
  RequestMethod,
  ResponseData,
  ResponseFrame,
} from '../../server/signalling/SignallingMessages.js';
import { SignallingError } from './SignallingError.js';
import { TypedEmitter } from './TypedEmitter.js';

/** One server notification, discriminated on `notification` so a `switch` narrows `data`. */
export type Notification = {
  [M in NotificationMethod]: { notification: M; data: NotificationData[M] };
}[NotificationMethod];

export interface SignallingChannelEvents extends Record<string, unknown[]> {
  notification: [Notification];
  /** The socket closed; `byUs` is true after `close()`. */
  close: [{ code: number; reason: string; byUs: boolean }];
}

interface PendingRequest {
  method: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** The request/response/notification layer over the `/ws` WebSocket. */
export class SignallingChannel extends TypedEmitter<SignallingChannelEvents> {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 1;
  #closedByUs = false;

  private constructor(socket: WebSocket) {
    super();
    this.#socket = socket;
    socket.addEventListener('message', (event) => this.#onMessage(event));
    socket.addEventListener('close', (event) => this.#onClose(event.code, event.reason));
  }

  /** Opens the socket and resolves once it is connected. */
  static open(url: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<SignallingChannel> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(new SignallingError('connect', 408, `no connection to ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve(new SignallingChannel(socket));
      }, { once: true });
      socket.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new SignallingError('connect', 503, `cannot connect to ${url}`));
      }, { once: true });
    });
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Sends a request and resolves with its typed answer; rejects with a `SignallingError`. */
  request<M extends RequestMethod>(
    method: M,
    data: RequestData<M>,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<ResponseData[M]> {
    if (!this.isOpen) return Promise.reject(new SignallingError(method, 503, 'signalling socket is not open'));
    const id = this.#nextId++;
    return new Promise<ResponseData[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SignallingError(method, 408, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { method, resolve: resolve as (data: unknown) => void, reject, timer });
      this.#socket.send(JSON.stringify({ id, method, data }));
    });
  }

  /** Closes the socket; pending requests fail with 503. */
  close(): void {
    this.#closedByUs = true;
    if (this.#socket.readyState === WebSocket.CONNECTING || this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.close(1000, 'bye');
    }
    this.#failPending('signalling socket closed');
  }

  #onMessage(event: MessageEvent): void {
    if (typeof event.data !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(event.data);
    } catch {
      console.warn('ignoring a non-JSON signalling frame');
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    if ('notification' in frame) {
      this.safeEmit('notification', frame as Notification);
      return;
    }
    const response = frame as ResponseFrame;
    const pending = this.#pending.get(response.id);
    if (!pending) return;
    this.#pending.delete(response.id);
    clearTimeout(pending.timer);
    if (response.ok) pending.resolve(response.data ?? {});
    else pending.reject(new SignallingError(pending.method, response.error.code, response.error.message));
  }

  #onClose(code: number, reason: string): void {
    this.#failPending(`signalling socket closed (${code})`);
    this.safeEmit('close', { code, reason, byUs: this.#closedByUs });
  }

  #failPending(message: string): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new SignallingError(pending.method, 503, message));
      this.#pending.delete(id);
    }
  }
}
