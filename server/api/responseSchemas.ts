import { z } from 'zod';
import {
  DispatchRuleInput, InboundTrunkOutput, OutboundTrunkOutput, RouteInput,
} from '../../sip-connector/calls/SipCallSchemas.js';

/**
 * What the REST API answers with, for the OpenAPI document's 2xx responses (each with an example). Strict:
 * a field the server sends that is not written here fails the test that checks live answers against them.
 */
const Timestamp = z.string().datetime();

export const RoomInfo = z.strictObject({
  name: z.string(),
  createdAt: Timestamp,
  numParticipants: z.number().int().min(0),
  emptyTimeoutSeconds: z.number().int().min(0),
  maxParticipants: z.number().int().min(1),
});
export const RoomResponse = z.strictObject({ room: RoomInfo });
export const RoomPage = z.strictObject({
  rooms: z.array(RoomInfo),
  /** The `after` of the next page; null on the last. */
  next: z.string().nullable(),
});

const ProducerInfo = z.strictObject({
  id: z.string(),
  kind: z.enum(['audio', 'video']),
  source: z.enum(['mic', 'camera', 'screen', 'screen-audio', 'phone']),
  paused: z.boolean(),
});
export const ParticipantInfo = z.strictObject({
  id: z.string(),
  identity: z.string(),
  displayName: z.string(),
  kind: z.enum(['webrtc', 'sip']),
  attributes: z.record(z.string(), z.string()),
  producers: z.array(ProducerInfo),
  handRaised: z.boolean(),
});
export const ParticipantResponse = z.strictObject({ participant: ParticipantInfo });
export const ParticipantList = z.strictObject({ participants: z.array(ParticipantInfo) });

export const IssuedToken = z.strictObject({ token: z.string(), expiresAt: Timestamp, url: z.string() });
export const GuestToken = z.strictObject({
  token: z.string(), expiresAt: Timestamp, identity: z.string(),
  /** The room id the typed name maps to (`Weekly sync` → `Weekly-sync`). */
  room: z.string(),
});

export const SipCall = z.strictObject({
  id: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  room: z.string(),
  trunkId: z.string().nullable(),
  ruleId: z.string().nullable(),
  from: z.string(),
  to: z.string(),
  state: z.enum(['ringing', 'pin', 'active', 'ended']),
  participantId: z.string().nullable(),
  codec: z.string().nullable(),
  onHold: z.boolean(),
  startedAt: Timestamp,
  answeredAt: Timestamp.nullable(),
  endedAt: Timestamp.nullable(),
  endReason: z.string().nullable(),
  status: z.number().int().nullable(),
  reason: z.string().nullable(),
});
export const SipCallResponse = z.strictObject({ call: SipCall });
export const SipCallList = z.strictObject({ calls: z.array(SipCall) });
export const DialOutResult = z.strictObject({ call: SipCall, outcome: z.enum(['answered', 'busy', 'no-answer', 'rejected', 'failed']) });

export const TrunkRegistrationList = z.strictObject({
  registrations: z.array(z.strictObject({
    trunkId: z.string(),
    state: z.enum(['registering', 'registered', 'failed']),
    aor: z.string(),
    expiresSec: z.number().int().nullable(),
    lastStatus: z.number().int().nullable(),
    lastReason: z.string().nullable(),
    updatedAt: Timestamp,
  })),
});

export const InboundTrunkList = z.strictObject({ inboundTrunks: z.array(InboundTrunkOutput) });
export const OutboundTrunkList = z.strictObject({ outboundTrunks: z.array(OutboundTrunkOutput) });
export const DispatchRuleList = z.strictObject({ dispatchRules: z.array(DispatchRuleInput) });
export const RouteList = z.strictObject({ routes: z.array(RouteInput) });
export { DispatchRuleInput as DispatchRule, InboundTrunkOutput as InboundTrunk, OutboundTrunkOutput as OutboundTrunk, RouteInput as Route };

export const Health = z.strictObject({ status: z.literal('ok') });
export const Readiness = z.strictObject({
  status: z.enum(['ready', 'degraded', 'not ready']),
  expectedWorkers: z.number().int().min(1),
  workers: z.array(z.strictObject({ pid: z.number().int(), routers: z.number().int().min(0) })),
});

const AT = '2026-12-03T09:30:00.000Z';
const ROOM = { name: 'standup', createdAt: AT, numParticipants: 2, emptyTimeoutSeconds: 300, maxParticipants: 100 };
const PARTICIPANT = {
  id: 'b2f6c1d0-5a4e-4c1b-9d0e-3f7a2c9e8b11', identity: 'alice', displayName: 'Alice', kind: 'webrtc', attributes: {},
  producers: [{ id: '6c0f9e2a-1b3d-4e5f-8a7b-9c0d1e2f3a4b', kind: 'audio', source: 'mic', paused: false }], handRaised: false,
};
const CALL = {
  id: '7f3a9c1e@192.0.2.10', direction: 'outbound', room: 'standup', trunkId: 'carrier', ruleId: null, from: 'sip:+15550100@192.0.2.10',
  to: 'sip:+15550123@192.0.2.10', state: 'active', participantId: 'e1d2c3b4-a5f6-4a7b-8c9d-0e1f2a3b4c5d', codec: 'PCMU', onHold: false,
  startedAt: AT, answeredAt: '2026-12-03T09:30:04.000Z', endedAt: null, endReason: null, status: null, reason: null,
};
const TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoic3RhbmR1cCJ9.c2lnbmF0dXJl';

/** An example of each response, for the document (and checked against its schema by the tests). */
export const EXAMPLES = {
  RoomResponse: { room: ROOM },
  RoomPage: { rooms: [ROOM], next: null },
  ParticipantResponse: { participant: PARTICIPANT },
  ParticipantList: { participants: [PARTICIPANT] },
  IssuedToken: { token: TOKEN, expiresAt: '2026-12-03T15:30:00.000Z', url: `/?token=${TOKEN}` },
  GuestToken: { token: TOKEN, expiresAt: '2026-12-03T15:30:00.000Z', identity: 'guest-3f2a9c1e', room: 'Weekly-sync' },
  SipCallResponse: { call: CALL },
  SipCallList: { calls: [CALL] },
  DialOutResult: { call: CALL, outcome: 'answered' },
  TrunkRegistrationList: {
    registrations: [{ trunkId: 'pbx', state: 'registered', aor: 'sip:2000@192.0.2.10', expiresSec: 600, lastStatus: 200, lastReason: 'OK', updatedAt: AT }],
  },
  InboundTrunk: {
    id: 'carrier-in', name: 'Carrier', allowedAddresses: ['192.0.2.0/24'], numbers: [], mediaEncryption: 'none', codecs: ['PCMU', 'PCMA', 'opus'],
  },
  OutboundTrunk: {
    id: 'carrier', name: 'Carrier', host: 'sip.example.net', port: 5060, transport: 'udp', auth: { username: 'acct', passwordSet: true },
    fromNumber: '+15550100', register: false, registerExpiresSeconds: 600, mediaEncryption: 'none', codecs: ['PCMU', 'PCMA', 'opus'],
    allowAnyHost: false,
  },
  DispatchRule: { id: 'main', name: 'Main number', trunkIds: [], numbers: ['+15550100'], priority: 100, pinMaxAttempts: 3, type: 'direct', room: 'standup' },
  Route: {
    id: 'to-pbx', name: 'extensions', type: 'user-to-trunk', numbers: [], prefixes: ['1'], priority: 100, users: [], outboundTrunkId: 'pbx',
    stripDigits: 0, addPrefix: '', callerId: 'user',
  },
  Health: { status: 'ok' },
  Readiness: { status: 'ready', expectedWorkers: 2, workers: [{ pid: 4242, routers: 3 }, { pid: 4243, routers: 2 }] },
} as const;
