import { z } from 'zod';
import { roomIdOf } from '../../client/sdk/roomId.js';
import { ROOM_NAME_PATTERN } from '../rooms/RoomRegistry.js';

/** Request bodies of the REST API; also the source of the OpenAPI document's schemas. */
export const RoomName = z.string().regex(ROOM_NAME_PATTERN, '1-64 of letters, digits, "_", "." or "-"');
const Identity = z.string().min(1).max(128).regex(/^[^\s]+$/, 'identity must not contain whitespace');
const DisplayName = z.string().trim().min(1).max(128);

export const CreateRoomBody = z.strictObject({
  name: RoomName,
  emptyTimeoutSeconds: z.number().int().min(0).max(86_400).optional(),
  maxParticipants: z.number().int().min(1).max(10_000).optional(),
});

export const CreateTokenBody = z.strictObject({
  room: RoomName,
  identity: Identity,
  name: DisplayName.optional(),
  ttlSeconds: z.number().int().min(60).max(30 * 86_400).optional(),
  /** A host's token: its holder may mute and remove the room's other participants from the page. */
  roomAdmin: z.boolean().optional(),
});

/** A room as people name it on the web page: free text, taken as the room id it maps to (see roomIdOf). */
const TypedRoomName = z.string().trim().min(1).max(256).transform(roomIdOf)
  .pipe(z.string().regex(ROOM_NAME_PATTERN, 'a room name needs at least one letter or digit'));

export const GuestTokenBody = z.strictObject({ room: TypedRoomName, name: DisplayName });
/** `GET /rooms?limit=&after=`: a page of rooms in name order, after the room named `after`. */
export const RoomPageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: RoomName.optional(),
});

export const MuteBody = z.strictObject({
  /** A producer id, or a kind to mute all of that kind. */
  producerId: z.string().min(1).max(128).optional(),
  kind: z.enum(['audio', 'video']).optional(),
  muted: z.boolean(),
}).refine((body) => body.producerId !== undefined || body.kind !== undefined, {
  message: 'give producerId or kind',
});
