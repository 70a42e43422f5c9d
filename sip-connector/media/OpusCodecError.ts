/** libopus rejected an argument or a packet; `code` is the addon's error code (ERR_OPUS_*). */
export class OpusCodecError extends Error {
  override readonly name = 'OpusCodecError';

  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
