/** Why an RTP packet was rejected; stable strings so callers can count drops per reason. */
export type RtpParseErrorCode =
  | 'too-short'
  | 'bad-version'
  | 'csrc-overflow'
  | 'extension-overflow'
  | 'bad-padding'
  | 'event-too-short';

/** A datagram that is not a well-formed RTP packet (RFC 3550 §5.1) or telephone-event payload. */
export class RtpParseError extends Error {
  override readonly name = 'RtpParseError';

  constructor(readonly code: RtpParseErrorCode, message: string) {
    super(message);
  }
}
