/** The native Opus addon is missing or failed to load (not built, or libopus absent). */
export class OpusAddonError extends Error {
  override readonly name = 'OpusAddonError';
}
