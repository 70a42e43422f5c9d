/** A message or header that does not follow the grammar; `status` is the response it maps to (400, 505...). */
export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}
