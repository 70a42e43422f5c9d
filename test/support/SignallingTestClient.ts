import { WebSocket } from 'ws';

interface Frame { id?: number; ok?: boolean; data?: unknown; error?: { code: number; message: string }; notification?: string }

/** A raw signalling client for tests: speaks the protocol frame by frame, records notifications. */
export class SignallingTestClient {
  readonly notifications: Array<{ method: string; data: Record<string, unknown> }> = [];
  readonly socket: WebSocket;
  readonly #pending = new Map<number, (frame: Frame) => void>();
  readonly strayErrors: Frame[] = [];
  #nextId = 1;
  closeCode: number | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      if (frame.notification) this.notifications.push({ method: frame.notification, data: frame.data as Record<string, unknown> });
      else if (frame.id !== undefined && this.#pending.has(frame.id)) {
        this.#pending.get(frame.id)!(frame);
        this.#pending.delete(frame.id);
      } else this.strayErrors.push(frame);
    });
    socket.on('close', (code) => { this.closeCode = code; });
  }

  static async connect(httpUrl: string): Promise<SignallingTestClient> {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws`);
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
    return new SignallingTestClient(socket);
  }

  /** Sends a request; resolves with the whole response frame. */
  request(method: string, data: unknown = {}, timeoutMs = 5000): Promise<Frame> {
    const id = this.#nextId++;
    this.socket.send(JSON.stringify({ id, method, data }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${method}`)), timeoutMs);
      this.#pending.set(id, (frame) => { clearTimeout(timer); resolve(frame); });
    });
  }

  /** Sends a request that must succeed; resolves with its data. */
  async call<T = Record<string, unknown>>(method: string, data: unknown = {}): Promise<T> {
    const frame = await this.request(method, data);
    if (!frame.ok) throw new Error(`${method} failed: ${frame.error?.code} ${frame.error?.message}`);
    return frame.data as T;
  }

  /** Waits for a notification matching the method (and predicate). */
  async waitFor(method: string, predicate: (data: Record<string, unknown>) => boolean = () => true, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.notifications.find((n) => n.method === method && predicate(n.data));
      if (found) return found.data;
      if (Date.now() > deadline) throw new Error(`no ${method} notification within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Minimal valid Opus RTP parameters a client could send in `produce`. */
export const OPUS_RTP_PARAMETERS = {
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 11111111 }],
  rtcp: { cname: 'test', reducedSize: true },
};
