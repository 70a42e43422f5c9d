/** A method was called in a client state that does not allow it (e.g. publishing before joining). */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
}
