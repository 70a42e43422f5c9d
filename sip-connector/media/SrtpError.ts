/** Why an SRTP packet was dropped; stable strings so callers can count drops per reason. */
export type SrtpErrorCode = 'too-short' | 'bad-version' | 'auth-failed' | 'replay' | 'bad-key';

/** An SRTP packet that failed authentication or replay protection, or a key that cannot be used. */
export class SrtpError extends Error {
  override readonly name = 'SrtpError';

  constructor(readonly code: SrtpErrorCode, message: string) {
    super(message);
  }
}
