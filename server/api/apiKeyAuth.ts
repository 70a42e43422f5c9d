import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { UnauthorizedError } from '../errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Why a request's API key was refused. */
export type ApiKeyRefusal = 'missing-key' | 'invalid-key';

/** Express middleware: the API key as `Authorization: Bearer <key>` or `X-Api-Key: <key>`; `onRefused` hears each refusal. */
export function apiKeyAuth(apiKey: string, onRefused: (reason: ApiKeyRefusal) => void = () => undefined) {
  const expected = digest(apiKey);
  return (request: Request, _response: Response, next: NextFunction): void => {
    const header = request.get('authorization');
    const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : request.get('x-api-key');
    // Comparing digests keeps the comparison constant-time whatever the presented length.
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      onRefused(presented ? 'invalid-key' : 'missing-key');
      next(new UnauthorizedError('missing or invalid API key'));
      return;
    }
    next();
  };
}
