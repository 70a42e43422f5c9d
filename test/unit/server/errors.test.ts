import { describe, expect, it } from 'vitest';
import { BadRequestError, CapacityError, NotFoundError, toWireError, UnsupportedError } from '../../../server/errors.js';

describe('toWireError', () => {
  it('lets errors of ours speak with their own codes', () => {
    expect(toWireError(new BadRequestError('name: required'))).toEqual({ status: 400, message: 'name: required' });
    expect(toWireError(new NotFoundError('room x not found'))).toEqual({ status: 404, message: 'room x not found' });
    expect(toWireError(new CapacityError('room full'))).toEqual({ status: 503, message: 'room full' });
    expect(toWireError(new UnsupportedError('SDP: no codec'))).toEqual({ status: 422, message: 'SDP: no codec' });
  });

  it('keeps anything else, a TypeError included, an opaque 500: an internal bug must not reach the client', () => {
    let bug: unknown;
    try {
      JSON.parse('{}', () => (null as unknown as { x: () => void }).x());
    } catch (error) {
      bug = error;
    }
    expect(bug).toBeInstanceOf(TypeError);
    expect(toWireError(bug)).toEqual({ status: 500, message: 'internal error' });
    expect(toWireError(new Error('secret detail'))).toEqual({ status: 500, message: 'internal error' });
  });
});
