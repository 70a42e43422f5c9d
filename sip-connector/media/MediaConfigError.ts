/** A media stage was configured with a codec, rate or frame size it cannot handle. */
export class MediaConfigError extends Error {
  override readonly name = 'MediaConfigError';
}
