/**
 * Errors that know their wire codes, so REST, WebSocket signalling and SIP answer the same failure
 * the same way (a missing room is a 404 in HTTP and in SIP alike).
 */
export class ConfluxError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
    readonly sipStatus: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed or semantically invalid input. */
export class BadRequestError extends ConfluxError {
  constructor(message: string) { super(message, 400, 400); }
}

/** Missing or invalid credentials. */
export class UnauthorizedError extends ConfluxError {
  constructor(message = 'authentication required') { super(message, 401, 401); }
}

/** Authenticated but not allowed. */
export class ForbiddenError extends ConfluxError {
  constructor(message: string) { super(message, 403, 403); }
}

export class NotFoundError extends ConfluxError {
  constructor(message: string) { super(message, 404, 404); }
}

/** The entity exists but is in a state where the operation cannot run (closed, already joined...). */
export class InvalidStateError extends ConfluxError {
  constructor(message: string) { super(message, 409, 491); }
}

/** Room or server capacity reached. */
export class CapacityError extends ConfluxError {
  constructor(message: string) { super(message, 503, 486); }
}

/** Media parameters we cannot handle (codecs, SDP). */
export class UnsupportedError extends ConfluxError {
  constructor(message: string) { super(message, 422, 488); }
}

/**
 * Maps any thrown value to a wire-safe status and message. Only ConfluxErrors speak to the client; anything
 * else (a TypeError included) is a bug of ours: a 500 whose details stay in the log.
 */
export function toWireError(error: unknown): { status: number; message: string } {
  if (error instanceof ConfluxError) return { status: error.httpStatus, message: error.message };
  return { status: 500, message: 'internal error' };
}

/** Durable state could not be written: nothing was changed. */
export class StorageError extends ConfluxError {
  constructor(message: string) { super(message, 503, 500); }
}
