/** A message could not be handed to the network (no route, connection refused, socket closed). */
export class SipTransportError extends Error {
  override readonly name = 'SipTransportError';
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
  }
}
