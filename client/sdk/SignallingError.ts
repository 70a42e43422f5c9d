/** A request the server refused (`{ ok: false, error: { code, message } }`) or that never got an answer. */
export class SignallingError extends Error {
  override readonly name = 'SignallingError';

  /** HTTP-like status: 401 bad token, 404 unknown entity, 408 no answer in time, 503 socket gone. */
  readonly code: number;

  /** The request method that failed, e.g. `join`. */
  readonly method: string;

  /** The server's own words (or what went wrong on the way), without the method and status around them. */
  readonly serverMessage: string;

  constructor(method: string, code: number, message: string) {
    super(`${method} failed (${code}): ${message}`);
    this.method = method;
    this.code = code;
    this.serverMessage = message;
  }
}
