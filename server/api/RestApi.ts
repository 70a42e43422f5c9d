import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { JoinTokens } from '../auth/JoinTokens.js';
import { ConfluxError, ForbiddenError, InvalidStateError, NotFoundError, toWireError } from '../errors.js';
import { createLogger } from '../logging/Logger.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { CreateRoomBody, CreateTokenBody, GuestTokenBody, MuteBody, RoomPageQuery } from './apiSchemas.js';
import { SourceRateLimiter } from '../../sip-connector/sip/SourceRateLimiter.js';
import { apiKeyAuth, type ApiKeyRefusal } from './apiKeyAuth.js';
import { parseBody } from './parseBody.js';
import { createSipConfigApi } from './SipConfigApi.js';
import { GuestRoomQuota } from './GuestRoomQuota.js';
import type { SipConfigStore } from '../../sip-connector/calls/SipConfigStore.js';
import type { SipCallManager } from '../../sip-connector/calls/SipCallManager.js';
import type { TrunkRegistrations } from '../../sip-connector/calls/TrunkRegistrations.js';
import { createSipCallsApi } from './SipCallsApi.js';
import type { EventStream } from '../events/EventStream.js';

const logger = createLogger('rest');

export interface RestApiContext {
  rooms: RoomRegistry;
  tokens: JoinTokens;
  apiKey: string;
  /** Told of each request refused for its API key. */
  onKeyRefused?: (reason: ApiKeyRefusal) => void;
  guestJoin: boolean;
  /** Guest tokens one address may fetch per minute (after a burst of ten). */
  guestTokensPerMinute?: number;
  /** Rooms one address may create with guest tokens (429 past it). */
  guestRoomsPerSource?: number;
  sipConfig: SipConfigStore;
  events: EventStream;
  /** Absent when SIP is disabled: the call routes then answer 503. */
  sipCalls: { calls: SipCallManager; registrations: TrunkRegistrations } | null;
}

/** The `/api/v1` routes: rooms, participants, tokens. */
export function createRestApi(context: RestApiContext): Router {
  const { rooms, tokens } = context;
  const api = express.Router();
  api.use(express.json({ limit: '64kb' }));

  // The web page asks for a guest token by room name; it carries no API key, so it sits before auth.
  // Guest tokens need no key, so one address could otherwise mint them (and create rooms with them) at will.
  const perMinute = context.guestTokensPerMinute ?? 30;
  const guestLimiter = new SourceRateLimiter({ perSecond: perMinute / 60, burst: Math.min(10, perMinute) });
  const guestRooms = new GuestRoomQuota(context.guestRoomsPerSource ?? 10, (room) => rooms.find(room) !== undefined);
  api.post('/guest-tokens', async (request, response) => {
    if (!context.guestJoin) throw new ForbiddenError('guest join is disabled');
    if (!guestLimiter.admit(request.socket.remoteAddress ?? '')) {
      response.set('Retry-After', String(Math.ceil(60 / perMinute)));
      throw new ConfluxError('too many guest tokens from this address; try again later', 429, 486);
    }
    const body = parseBody(GuestTokenBody, request.body);
    if (!guestRooms.admit(request.socket.remoteAddress ?? '', body.room)) {
      throw new ConfluxError('too many new rooms from this address; join an existing room or ask for a token', 429, 486);
    }
    const identity = `guest-${randomUUID().slice(0, 8)}`;
    const issued = await tokens.issue({ room: body.room, identity, name: body.name });
    response.status(201).json({ ...issued, identity, room: body.room });
  });

  api.use(apiKeyAuth(context.apiKey, context.onKeyRefused));

  api.post('/tokens', async (request, response) => {
    const body = parseBody(CreateTokenBody, request.body);
    const issued = await tokens.issue({
      room: body.room, identity: body.identity, name: body.name ?? body.identity, ...(body.roomAdmin ? { roomAdmin: true } : {}),
    }, body.ttlSeconds);
    response.status(201).json({ ...issued, url: `/?token=${encodeURIComponent(issued.token)}` });
  });

  api.get('/rooms', (request, response) => {
    const { limit, after } = parseBody(RoomPageQuery, request.query);
    const page = rooms.page(limit, after);
    response.json({ rooms: page.rooms.map((room) => room.info()), next: page.next });
  });

  api.post('/rooms', async (request, response) => {
    const { name, ...options } = parseBody(CreateRoomBody, request.body);
    const { room, created } = await rooms.getOrCreate(name, options);
    if (!created) {
      // An existing room keeps its options: asking for others is refused, not silently ignored.
      const info = room.info();
      const differing = (Object.keys(options) as Array<keyof typeof options>)
        .filter((key) => options[key] !== undefined && options[key] !== info[key]);
      if (differing.length > 0) {
        throw new InvalidStateError(`room ${name} exists with ${differing.map((key) => `${key} ${info[key]}`).join(' and ')}: `
          + 'leave the option out, or delete the room first');
      }
    }
    response.status(created ? 201 : 200).json({ room: room.info() });
  });

  api.get('/rooms/:room', (request, response) => {
    response.json({ room: rooms.get(String(request.params.room)).info() });
  });

  api.delete('/rooms/:room', (request, response) => {
    rooms.delete(String(request.params.room));
    response.status(204).end();
  });

  api.get('/rooms/:room/participants', (request, response) => {
    const room = rooms.get(String(request.params.room));
    response.json({ participants: room.participants.map((p) => p.info()) });
  });

  api.get('/rooms/:room/participants/:participant', (request, response) => {
    const room = rooms.get(String(request.params.room));
    response.json({ participant: room.getParticipant(String(request.params.participant)).info() });
  });

  api.delete('/rooms/:room/participants/:participant', (request, response) => {
    rooms.get(String(request.params.room)).remove(String(request.params.participant), 'kicked');
    response.status(204).end();
  });

  api.post('/rooms/:room/participants/:participant/mute', async (request, response) => {
    const body = parseBody(MuteBody, request.body);
    const participant = rooms.get(String(request.params.room)).getParticipant(String(request.params.participant));
    await participant.mute(body, body.muted);
    response.json({ participant: participant.info() });
  });

  api.get('/events', (_request, response) => {
    context.events.serveSse(response);
  });

  api.use('/sip', createSipConfigApi(context.sipConfig));
  if (context.sipCalls) {
    api.use('/sip', createSipCallsApi(context.sipCalls.calls, context.sipCalls.registrations));
  } else {
    api.use(['/sip/calls', '/sip/registrations'], () => {
      throw new ConfluxError('SIP is disabled on this server', 503, 503);
    });
  }

  api.use((request) => {
    throw new NotFoundError(`no route ${request.method} ${request.baseUrl}${request.path}`);
  });
  api.use(jsonErrorHandler);
  return api;
}

/** Turns any error into `{ error: { code, message } }` with the matching status. */
export function jsonErrorHandler(error: unknown, request: Request, response: Response, _next: NextFunction): void {
  let { status, message } = toWireError(error);
  // body-parser's errors carry their own 4xx status (malformed JSON, too large).
  const parserStatus = (error as { status?: number; type?: string }).status;
  if (status === 500 && typeof parserStatus === 'number' && parserStatus >= 400 && parserStatus < 500) {
    status = parserStatus;
    message = parserStatus === 413 ? 'request body too large' : 'malformed JSON body';
  }
  if (!(error instanceof ConfluxError) && status >= 500) logger.error({ err: error, path: request.path }, 'request failed');
  else if (status >= 500) logger.warn({ path: request.path, status, message }, 'request refused');
  response.status(status).json({ error: { code: status, message } });
}
