import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCidr } from './CidrMatcher.js';

/**
 * Trunks and dispatch rules: how phones reach rooms. Validated here once; stored and served as
 * these types. A password is write-only: it is stored but never returned by the API.
 */
const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, '1-64 of letters, digits, "_", "." or "-"');
const Name = z.string().trim().min(1).max(128);
/** E.164-ish or extension: digits with an optional leading +, or a SIP user part. */
const Number_ = z.string().regex(/^\+?[A-Za-z0-9_.*#-]{1,64}$/, 'digits (optionally +) or a SIP user part');
const Cidr = z.string().refine((value) => parseCidr(value) !== null, 'not an IP address or CIDR block');
const Credentials = z.strictObject({ username: z.string().min(1).max(128), password: z.string().min(1).max(256) });
const Host = z.string().min(1).max(253).refine(
  (value) => isIP(value) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value),
  'host must be an IP address or a DNS name',
);
const RoomName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, '1-64 of letters, digits, "_", "." or "-"');
const RoomPrefix = z.string().regex(/^[A-Za-z0-9_.-]{0,32}$/, 'roomPrefix: up to 32 of letters, digits, "_", "." or "-"');
/** Codecs a phone leg can use: the mixer encodes and decodes these. */
const Codec = z.enum(['PCMU', 'PCMA', 'G722', 'opus']);
const Pin = z.string().regex(/^[0-9]{3,12}$/, '3-12 digits');

const InboundTrunkFields = {
  id: Id,
  name: Name,
  /** Source addresses allowed to send calls (IP or CIDR); empty = any source (then use auth). */
  allowedAddresses: z.array(Cidr).max(256).default([]),
  /** Called numbers this trunk serves; empty = all. */
  numbers: z.array(Number_).max(1024).default([]),
  /** Digest credentials callers must present (407 challenge); absent = none. */
  auth: Credentials.optional(),
  /** SDES-SRTP (RTP/SAVP with a=crypto) required on media. */
  mediaEncryption: z.enum(['none', 'sdes']).default('none'),
  codecs: z.array(Codec).min(1).default(['PCMU', 'PCMA', 'opus']),
};
export const InboundTrunkInput = z.strictObject(InboundTrunkFields).refine((trunk) => trunk.allowedAddresses.length > 0 || trunk.auth !== undefined, {
  message: 'an inbound trunk needs allowedAddresses or auth: an open trunk would accept calls from anyone',
});
export type InboundTrunk = z.infer<typeof InboundTrunkInput>;

const OutboundTrunkFields = {
  id: Id,
  name: Name,
  host: Host,
  port: z.number().int().min(1).max(65535).default(5060),
  transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  auth: Credentials.optional(),
  /** Caller number presented on dial-out. */
  fromNumber: Number_,
  /** REGISTER to the provider/PBX and keep the registration fresh. */
  register: z.boolean().default(false),
  registerExpiresSeconds: z.number().int().min(60).max(86_400).default(600),
  mediaEncryption: z.enum(['none', 'sdes']).default('none'),
  codecs: z.array(Codec).min(1).default(['PCMU', 'PCMA', 'opus']),
  /**
   * A dial-out's `sip:` URI may name its own host. Off by default: a trunk's calls (and its credentials)
   * go to the trunk's host alone, and a URI only chooses the user part.
   */
  allowAnyHost: z.boolean().default(false),
};
export const OutboundTrunkInput = z.strictObject(OutboundTrunkFields);
export type OutboundTrunk = z.infer<typeof OutboundTrunkInput>;

const RuleBase = {
  id: Id,
  name: Name,
  /** Inbound trunks the rule applies to; empty = all. */
  trunkIds: z.array(Id).max(64).default([]),
  /** Called numbers the rule applies to; empty = all. */
  numbers: z.array(Number_).max(1024).default([]),
  /** Lower runs first among matching rules. */
  priority: z.number().int().min(0).max(1000).default(100),
  /** Callers type this PIN (DTMF, then #) before entering the room. */
  pin: Pin.optional(),
  pinMaxAttempts: z.number().int().min(1).max(10).default(3),
};

export const DispatchRuleInput = z.discriminatedUnion('type', [
  /** Every call goes to one room. */
  z.strictObject({ ...RuleBase, type: z.literal('direct'), room: RoomName }),
  /** The called number picks the room: `<roomPrefix><called number>`. */
  z.strictObject({ ...RuleBase, type: z.literal('callee'), roomPrefix: RoomPrefix.default('call-') }),
  /** Each call gets a room of its own: `<roomPrefix><caller>-<random>`. */
  z.strictObject({ ...RuleBase, type: z.literal('per-caller'), roomPrefix: RoomPrefix.default('caller-') }),
]);
export type DispatchRule = z.infer<typeof DispatchRuleInput>;

/** Credentials as the API returns them: the password is never sent back. */
const RedactedCredentials = z.strictObject({ username: z.string(), passwordSet: z.literal(true) });
/** Trunks as the API returns them (see `redactTrunk`). */
export const InboundTrunkOutput = z.strictObject({ ...InboundTrunkFields, auth: RedactedCredentials.optional() });
export const OutboundTrunkOutput = z.strictObject({ ...OutboundTrunkFields, auth: RedactedCredentials.optional() });

/** A trunk as the API returns it: the password replaced by a flag. */
export function redactTrunk<T extends { auth?: { username: string; password: string } | undefined }>(trunk: T) {
  const { auth, ...rest } = trunk;
  return auth ? { ...rest, auth: { username: auth.username, passwordSet: true } } : rest;
}

/** Which dialled numbers a route takes: the listed numbers and every number that starts with a listed prefix; both empty = all. */
const NumberMatch = {
  numbers: z.array(Number_).max(1024).default([]),
  prefixes: z.array(z.string().regex(/^\+?[A-Za-z0-9_.*#-]{1,32}$/, 'digits (optionally +) or the start of a SIP user part')).max(256).default([]),
  /** Lower runs first among matching routes. */
  priority: z.number().int().min(0).max(1000).default(100),
};
/** A user of the registrar (`sip.users`), by name. */
const UserName = z.string().regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/%-]{1,64}$/, 'a SIP user name of 1-64 characters');

export const RouteInput = z.discriminatedUnion('type', [
  /**
   * A registered user (a browser SIP client) dials a number that is not one of our users: the call goes out
   * through an outbound trunk (a carrier, or the PBX every browser call goes to).
   */
  z.strictObject({
    id: Id, name: Name, type: z.literal('user-to-trunk'), ...NumberMatch,
    /** Users the route serves; empty = every registered user. */
    users: z.array(UserName).max(1024).default([]),
    outboundTrunkId: Id,
    /** Digits removed from the front of the dialled number (an outside-line prefix such as 9), then `addPrefix` put in front. */
    stripDigits: z.number().int().min(0).max(16).default(0),
    addPrefix: z.string().regex(/^\+?[0-9*#]{0,16}$/, 'addPrefix: up to 16 digits (optionally +)').default(''),
    /** The caller the trunk is shown: the calling user's name (a PBX extension), or the trunk's own `fromNumber` (a carrier). */
    callerId: z.enum(['user', 'trunk']).default('user'),
  }),
  /**
   * A call arriving on an inbound trunk goes to a registered user instead of a room: the user named here, or
   * (absent) the user whose name is the called number. The user must be registered (480 otherwise).
   */
  z.strictObject({
    id: Id, name: Name, type: z.literal('trunk-to-user'), ...NumberMatch,
    /** Inbound trunks the route applies to; empty = all. */
    trunkIds: z.array(Id).max(64).default([]),
    user: UserName.optional(),
  }),
]);
export type Route = z.infer<typeof RouteInput>;
