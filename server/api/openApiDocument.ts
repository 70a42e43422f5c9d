import { z } from 'zod';
import { CreateRoomBody, CreateTokenBody, GuestTokenBody, MuteBody } from './apiSchemas.js';
import { DispatchRuleInput, InboundTrunkInput, OutboundTrunkInput, RouteInput } from '../../sip-connector/calls/SipCallSchemas.js';
import { DialOutBodySchema, DtmfBodySchema } from './SipCallsApi.js';
import * as R from './responseSchemas.js';

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input' }) } } });
const error = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const errors = { 400: error, 401: error, 404: error };
const roomParam = { name: 'room', in: 'path', required: true, schema: { type: 'string' } };
const participantParam = { name: 'participant', in: 'path', required: true, schema: { type: 'string' } };
/** Each typed response of the document, with the zod schema it was written from (for the tests that check live answers). */
const SCHEMAS = new WeakMap<object, z.ZodType>();

/** A JSON response whose body is `schema` (as the server sends it: defaults applied), with `example`. */
function typed(description: string, schema: z.ZodType, example: unknown): Record<string, unknown> {
  const response = { description, content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'output' }), example } } };
  SCHEMAS.set(response, schema);
  return response;
}

/** The zod schema a response of the document was written from; undefined for an untyped one. */
export function documentedSchema(response: object): z.ZodType | undefined {
  return SCHEMAS.get(response);
}

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** How one durable SIP collection is written and read back: its input, its output, the list's key, an example. */
interface Collection {
  label: string;
  input: z.ZodType;
  output: z.ZodType;
  list: z.ZodType;
  listKey: string;
  example: unknown;
}

/** List/create and get/replace/delete paths of one durable SIP collection. */
function crud(path: string, { label, input, output, list, listKey, example }: Collection, description?: string): Record<string, unknown> {
  return {
    [path]: {
      ...(description ? { description } : {}),
      get: { summary: `List ${label}s`, responses: { 200: typed(`${label}s`, list, { [listKey]: [example] }), 401: error } },
      post: { summary: `Create a ${label}`, requestBody: json(input), responses: { 201: typed('Created', output, example), 409: error, ...errors } },
    },
    [`${path}/{id}`]: {
      parameters: [idParam],
      get: { summary: `Get a ${label} (passwords are never returned)`, responses: { 200: typed(label, output, example), ...errors } },
      put: {
        summary: `Create or replace a ${label}`, requestBody: json(input),
        responses: { 200: typed('Replaced', output, example), 201: typed('Created', output, example), ...errors },
      },
      delete: { summary: `Delete a ${label}`, responses: { 204: { description: 'Deleted' }, 409: error, ...errors } },
    },
  };
}

const ROUTE_ORDER = 'Where an inbound call goes, in this order. (1) A registered user\'s call (over a WebSocket, or From a user of '
  + 'the domain) is authenticated by digest, then goes to the called user when it is one (480 when not registered), else out through '
  + 'the first `user-to-trunk` route (lowest priority, then id) whose numbers or prefixes take the dialled number, else into the room of '
  + 'the first dispatch rule that names no trunk (404 when none). '
  + '(2) Any other call must match an inbound trunk (403/407); the first `trunk-to-user` route that takes the called number sends it '
  + 'to a registered user (its `user`, or the user named by the called number; 480 when offline); (3) else the dispatch rules pick a room.';

/** The tag of a path: what part of the server it manages. */
function tagOf(path: string): string {
  if (path.startsWith('/rooms/{room}/participants')) return 'Participants';
  if (path.startsWith('/rooms')) return 'Rooms';
  if (path.endsWith('tokens')) return 'Tokens';
  if (path.includes('-trunks')) return 'SIP trunks';
  if (path.startsWith('/sip/dispatch-rules')) return 'Dispatch rules';
  if (path.startsWith('/sip/routes')) return 'Routes';
  if (path.startsWith('/sip/')) return 'Calls';
  if (path === '/events') return 'Events';
  return 'Operations';
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** `getRoomsByRoomParticipants` for GET /rooms/{room}/participants: unique, stable, derived from the route. */
function operationIdOf(method: string, path: string): string {
  const words = path.split('/').filter(Boolean).map((segment) => {
    const param = /^\{(.+)\}$/.exec(segment);
    const word = (param ? param[1]! : segment).split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
    return param ? `By${word}` : word;
  });
  return `${method}${words.join('')}`;
}

/** Gives every operation its tag and operationId, unless it has its own. */
function tagged(paths: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Record<string, unknown> | undefined;
      if (!operation) continue;
      operation.tags ??= [tagOf(path)];
      operation.operationId ??= operationIdOf(method, path);
    }
  }
  return paths;
}

/** The server's own endpoints, outside `/api/v1`. */
const ROOT = [{ url: '/' }];
const OPERATIONS_PATHS = {
  '/healthz': {
    servers: ROOT,
    get: { summary: 'Liveness: the process answers', security: [], responses: { 200: typed('The process answers', R.Health, R.EXAMPLES.Health) } },
  },
  '/readyz': {
    servers: ROOT,
    get: {
      summary: 'Readiness: `ready`, `degraded` (a dead mediasoup worker\'s replacement is starting) or `not ready` (503), with each worker',
      security: [], responses: {
        200: typed('Ready or degraded, with each live worker and its routers', R.Readiness, R.EXAMPLES.Readiness),
        503: typed('No worker is alive', R.Readiness, { status: 'not ready', expectedWorkers: 2, workers: [] }),
      },
    },
  },
  '/metrics': {
    servers: ROOT,
    get: {
      summary: 'Prometheus metrics (text exposition format)',
      responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } }, 401: error },
    },
  },
};

/** OpenAPI 3.1 description of the REST API, served at `/openapi.json` and shown at `/docs`. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'conflux', version: '1', description: 'Rooms, participants, join tokens, SIP trunks, rules, routes and calls of a conflux media server.' },
    servers: [{ url: '/api/v1' }],
    security: [{ apiKey: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: { error: { type: 'object', properties: { code: { type: 'integer' }, message: { type: 'string' } } } },
        },
      },
    },
    tags: [
      { name: 'Rooms' }, { name: 'Participants' }, { name: 'Tokens' }, { name: 'SIP trunks' }, { name: 'Dispatch rules' },
      { name: 'Routes', description: ROUTE_ORDER }, { name: 'Calls' }, { name: 'Events' }, { name: 'Operations' },
    ],
    paths: tagged({
      ...OPERATIONS_PATHS,
      ...crud('/sip/inbound-trunks', {
        label: 'inbound trunk', input: InboundTrunkInput, output: R.InboundTrunk, list: R.InboundTrunkList, listKey: 'inboundTrunks',
        example: R.EXAMPLES.InboundTrunk,
      }),
      ...crud('/sip/outbound-trunks', {
        label: 'outbound trunk', input: OutboundTrunkInput, output: R.OutboundTrunk, list: R.OutboundTrunkList, listKey: 'outboundTrunks',
        example: R.EXAMPLES.OutboundTrunk,
      }),
      ...crud('/sip/dispatch-rules', {
        label: 'dispatch rule', input: DispatchRuleInput, output: R.DispatchRule, list: R.DispatchRuleList, listKey: 'dispatchRules',
        example: R.EXAMPLES.DispatchRule,
      }),
      ...crud('/sip/routes', {
        label: 'route', input: RouteInput, output: R.Route, list: R.RouteList, listKey: 'routes', example: R.EXAMPLES.Route,
      }, ROUTE_ORDER),
      '/sip/calls': {
        get: { summary: 'Calls in progress and recently ended', responses: { 200: typed('Calls', R.SipCallList, R.EXAMPLES.SipCallList), 401: error } },
        post: {
          summary: 'Dial out to a phone through an outbound trunk into a room; answers once the call connects or fails',
          requestBody: json(DialOutBodySchema),
          responses: {
            201: typed('Answered', R.DialOutResult, R.EXAMPLES.DialOutResult),
            200: typed('Not answered: outcome busy, no-answer, rejected or failed', R.DialOutResult, {
              call: { ...R.EXAMPLES.DialOutResult.call, state: 'ended', answeredAt: null, endedAt: '2026-12-03T09:30:20.000Z', endReason: 'busy', status: 486, reason: 'Busy Here' },
              outcome: 'busy',
            }),
            ...errors,
          },
        },
      },
      '/sip/calls/{id}': {
        parameters: [idParam],
        get: { summary: 'One call', responses: { 200: typed('Call', R.SipCallResponse, R.EXAMPLES.SipCallResponse), ...errors } },
        delete: { summary: 'Hang up (BYE, or CANCEL before the answer)', responses: { 204: { description: 'Hung up' }, ...errors } },
      },
      '/sip/calls/{id}/dtmf': {
        parameters: [idParam],
        post: { summary: 'Send DTMF digits to the phone (RFC 4733)', requestBody: json(DtmfBodySchema), responses: { 204: { description: 'Sent' }, 409: error, ...errors } },
      },
      '/sip/registrations': {
        get: { summary: 'Registration state of outbound trunks that register', responses: { 200: typed('Registrations', R.TrunkRegistrationList, R.EXAMPLES.TrunkRegistrationList), 401: error } },
      },
      '/events': {
        get: {
          summary: 'Server-Sent Events: room_created/closed, participant_joined/left, call_ringing/answered/ended, dtmf_received',
          responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 401: error },
        },
      },
      '/rooms': {
        get: {
          summary: 'List rooms in name order, a page at a time: `next` is the `after` of the next page (null at the end)',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
            { name: 'after', in: 'query', schema: { type: 'string' } },
          ],
          responses: { 200: typed('Rooms', R.RoomPage, R.EXAMPLES.RoomPage), 400: error, 401: error },
        },
        post: {
          summary: 'Create a room (200 if it already exists with those options, 409 if with others)', requestBody: json(CreateRoomBody),
          responses: {
            201: typed('Created', R.RoomResponse, R.EXAMPLES.RoomResponse),
            200: typed('Exists already, with the options asked for (or none asked)', R.RoomResponse, R.EXAMPLES.RoomResponse),
            409: error,
            ...errors,
          },
        },
      },
      '/rooms/{room}': {
        parameters: [roomParam],
        get: { summary: 'Get a room', responses: { 200: typed('Room', R.RoomResponse, R.EXAMPLES.RoomResponse), ...errors } },
        delete: { summary: 'Close a room, removing everyone', responses: { 204: { description: 'Closed' }, ...errors } },
      },
      '/rooms/{room}/participants': {
        parameters: [roomParam],
        get: { summary: 'Participants with their producers', responses: { 200: typed('Participants', R.ParticipantList, R.EXAMPLES.ParticipantList), ...errors } },
      },
      '/rooms/{room}/participants/{participant}': {
        parameters: [roomParam, participantParam],
        get: { summary: 'One participant', responses: { 200: typed('Participant', R.ParticipantResponse, R.EXAMPLES.ParticipantResponse), ...errors } },
        delete: { summary: 'Kick a participant', responses: { 204: { description: 'Removed' }, ...errors } },
      },
      '/rooms/{room}/participants/{participant}/mute': {
        parameters: [roomParam, participantParam],
        post: { summary: "Mute or unmute a participant's producer(s)", requestBody: json(MuteBody),
          responses: { 200: typed('Participant', R.ParticipantResponse, R.EXAMPLES.ParticipantResponse), ...errors },
        },
      },
      '/tokens': {
        post: { summary: 'Issue a join token (JWT) for a room and identity', requestBody: json(CreateTokenBody),
          responses: { 201: typed('Token, and the web client\'s URL with it', R.IssuedToken, R.EXAMPLES.IssuedToken), ...errors },
        },
      },
      '/guest-tokens': {
        post: {
          summary: 'Guest join token for the web page (no API key; only when guest join is enabled)', security: [],
          requestBody: json(GuestTokenBody), responses: { 201: typed('Token', R.GuestToken, R.EXAMPLES.GuestToken), 400: error, 403: error, 429: error },
        },
      },
    }),
  };
}
