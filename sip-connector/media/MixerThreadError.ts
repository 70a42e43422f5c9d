/** A mixer request failed in the worker, or the worker is gone. `remoteName` is the worker-side error class. */
export class MixerThreadError extends Error {
  override readonly name = 'MixerThreadError';

  constructor(message: string, readonly remoteName = 'Error') {
    super(message);
  }
}
