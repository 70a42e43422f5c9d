/** Exit codes of the CLI: what went wrong, for scripts. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, unauthorized: 4 } as const;

/** A failure the CLI reports in one line and exits with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server's REST API, with its key; failures become CliErrors naming the cause. */
export class ApiClient {
  constructor(readonly url: string, private readonly apiKey: string | null, private readonly timeoutMs = 15_000) {}

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#fetch(`/api/v1${path}`, {
      method,
      headers: { ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: unknown } } | null)?.error?.message;
      const cause = typeof message === 'string' ? message : `${response.status} ${response.statusText}`;
      if (response.status === 401 || response.status === 403) {
        throw new CliError(`the server refused the API key (${response.status}: ${cause}); give --api-key or CONFLUX_API_KEY`, EXIT.unauthorized);
      }
      throw new CliError(`${method} ${path}: ${response.status} ${cause}`, EXIT.refused);
    }
    return parsed as T;
  }

  /** An unauthenticated GET (health, readiness): its status and JSON body. */
  async probe(path: string): Promise<{ status: number; body: unknown }> {
    const response = await this.#fetch(path, { method: 'GET' });
    return { status: response.status, body: await response.json().catch(() => null) };
  }

  /** The event stream (Server-Sent Events): each event's JSON, until `signal` aborts or the server ends it. */
  async *events(signal: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const response = await this.#fetch('/api/v1/events', { headers: this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}, signal }, false);
    if (response.status === 401 || response.status === 403) throw new CliError('the server refused the API key', EXIT.unauthorized);
    if (!response.ok || !response.body) throw new CliError(`GET /events: ${response.status}`, EXIT.refused);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
        if (data) yield JSON.parse(data) as Record<string, unknown>;
      }
    }
  }

  async #fetch(path: string, init: RequestInit, timed = true): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { ...init, ...(timed && !init.signal ? { signal: AbortSignal.timeout(this.timeoutMs) } : {}) });
    } catch (error) {
      if ((error as Error).name === 'AbortError' && init.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the server at ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message}); is it running? (npm start)`, EXIT.unreachable);
    }
  }
}
