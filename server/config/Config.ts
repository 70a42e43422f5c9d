import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';

/** Fields whose values never appear in logs or the start-up print. */
const SECRET_KEYS = new Set(['apiKey', 'jwtSecret', 'password', 'secret']);

const port = z.number().int().min(0).max(65535);
const nullablePort = port.nullable();
/** An interface to bind: an IP address (0.0.0.0 or :: for all). */
const bindAddress = z.string().refine((value) => isIP(value) !== 0, 'not an IP address (0.0.0.0 binds every IPv4 interface)');
/** A DNS name: labels of letters, digits and inner hyphens, dot-separated. */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** An address others reach us at: an IP address or a DNS name. */
const hostAddress = z.string().refine((value) => isIP(value) !== 0 || DNS_NAME.test(value), 'not an IP address or a DNS name');

export const ConfigSchema = z.strictObject({
  http: z.strictObject({
    host: hostAddress.default('0.0.0.0'),
    port: port.default(8080),
    /** Serve the web client at `/`. */
    serveClient: z.boolean().default(true),
    /** HTTPS (browsers only grant camera/mic to secure origins other than localhost). */
    tls: z.strictObject({ certFile: z.string(), keyFile: z.string() }).nullable().default(null),
  }).prefault({}),
  rtc: z.strictObject({
    /** Address the media sockets bind to. */
    listenIp: bindAddress.default('0.0.0.0'),
    /** Address put in ICE candidates; `null` = auto (first non-internal IPv4, else the listen IP). */
    announcedAddress: hostAddress.nullable().default(null),
    minPort: port.default(40000),
    maxPort: port.default(49999),
    enableTcp: z.boolean().default(true),
    initialAvailableOutgoingBitrate: z.number().int().positive().default(1_000_000),
  }).prefault({}),
  mediasoup: z.strictObject({
    /** Workers to run; 0 = one per CPU core. */
    numWorkers: z.number().int().min(0).max(256).default(0),
    logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  }).prefault({}),
  rooms: z.strictObject({
    /** A room with nobody in it closes after this grace period. */
    emptyTimeoutSeconds: z.number().int().min(0).max(86_400).default(60),
    maxParticipants: z.number().int().min(1).max(10_000).default(100),
    /** Rooms come into being when the first participant joins; off = only REST creates them. */
    autoCreate: z.boolean().default(true),
    /** Rooms open at once on this node (REST, joins, calls and gateway calls alike); more are refused. */
    maxRooms: z.number().int().min(1).max(100_000).default(1000),
  }).prefault({}),
  auth: z.strictObject({
    /** Required on every REST call (`Authorization: Bearer <key>` or `X-Api-Key`). Generated if empty. */
    apiKey: z.string().default(''),
    /** HMAC secret of join tokens (HS256), at least 32 characters. Generated if empty. */
    jwtSecret: z.string().default(''),
    /** Let the web page fetch a join token for any room by name (development and demos). */
    guestJoin: z.boolean().default(true),
    /** Guest tokens one address may fetch: a burst, then this many per minute (429 past it). */
    guestTokensPerMinute: z.number().int().min(1).max(10_000).default(30),
    /** Rooms one address may create with guest tokens while they live (429 past it). */
    guestRoomsPerSource: z.number().int().min(1).max(10_000).default(10),
    tokenTtlSeconds: z.number().int().min(60).max(30 * 86_400).default(6 * 3600),
  }).prefault({}),
  sip: z.strictObject({
    enabled: z.boolean().default(true),
    host: bindAddress.default('0.0.0.0'),
    udpPort: nullablePort.default(5060),
    tcpPort: nullablePort.default(5060),
    tlsPort: nullablePort.default(null),
    wsPort: nullablePort.default(null),
    wssPort: nullablePort.default(null),
    tls: z.strictObject({ certFile: z.string(), keyFile: z.string() }).nullable().default(null),
    /** The product's own SIP domain: its registrar accepts these users. */
    domain: z.string().default('conflux.local'),
    users: z.array(z.strictObject({ username: z.string().min(1), password: z.string().min(1) })).default([]),
    /**
     * Digest algorithms the registrar challenges with, most preferred first. MD5 alone by default: JsSIP
     * 3.13 answers only the last challenge and only MD5, baresip 1.0 only the first and only MD5.
     */
    digestAlgorithms: z.array(z.enum(['MD5', 'SHA-256', 'SHA-512-256'])).min(1).default(['MD5']),
    /**
     * Digest brute-force guard: this many wrong answers from one address (or for one user, from any
     * address but those it already registered from) within `windowSeconds` block it for `blockSeconds`,
     * doubling with each block up to an hour.
     */
    authGuard: z.strictObject({
      maxFailuresPerSource: z.number().int().min(1).default(10),
      maxFailuresPerUser: z.number().int().min(1).default(30),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
      blockSeconds: z.number().int().min(1).max(86_400).default(60),
    }).prefault({}),
    /**
     * Messages per second one source address may send, and all sources together; more are dropped
     * unparsed. Past `totalPerSecond` a source is admitted only under an equal share of it, so forty
     * flooding hosts cannot starve a trunk or a prober. Set from bench/sip-flood on 2 cores: one core
     * answers ~5,000 OPTIONS/s, and it must keep time to read and drop a flood of 20,000/s (at 3,000/s
     * per source and no total, a prober lost 84 %). 600/s per source is a trunk at 200 calls/s, what
     * the product sustains (bench/sip-cps); raise both on a bigger machine.
     */
    rateLimit: z.strictObject({
      perSecond: z.number().int().min(1), burst: z.number().int().min(1),
      totalPerSecond: z.number().int().min(1).nullable().default(null),
    }).nullable().default({ perSecond: 600, burst: 1200, totalPerSecond: 1500 }),
    /**
     * TCP, TLS and WebSocket connections: at most `max` open (null: a quarter of the descriptor limit), at
     * most `perSource` from one address, and one silent for `silentSeconds` after opening is closed.
     */
    connections: z.strictObject({
      max: z.number().int().min(1).nullable().default(null),
      perSource: z.number().int().min(1).default(64),
      silentSeconds: z.number().int().min(1).max(300).default(10),
    }).prefault({}),
    /** Calls in progress at most; more INVITEs are answered 503. */
    maxCalls: z.number().int().min(1).max(100_000).default(1000),
    /** A phone that sends no RTP for this long is hung up on. */
    mediaTimeoutSeconds: z.number().int().min(5).max(3600).default(30),
    /**
     * Playout delay of phone and browser audio into the mixer. Adaptive: starts here, then follows
     * the measured jitter (4 × jitter + one packet), so quiet networks get low latency.
     */
    jitterTargetMs: z.number().int().min(20).max(200).default(40),
    adaptiveJitter: z.boolean().default(true),
    /** A caller has this long to enter a dispatch rule's PIN. */
    pinTimeoutSeconds: z.number().int().min(5).max(600).default(60),
    /**
     * Early media (a 183 with SDP: ringback, announcements) from a phone or PBX a browser calls: `relay`
     * sends the browser a 183 with our answer and it hears it before the answer; `ringing` tells it only
     * 180 Ringing and plays nothing before the answer (for clients that mishandle early media).
     */
    browserEarlyMedia: z.enum(['relay', 'ringing']).default('relay'),
  }).prefault({}),
  /** Room and call events POSTed to an HTTP endpoint, signed with HMAC-SHA256 of `secret`. */
  webhooks: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).nullable().default(null),
    secret: z.string().default(''),
  }).prefault({}),
  /** Where durable state (generated secrets, trunks) is kept. */
  dataDir: z.string().default('data'),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** One readable line per event instead of JSON; `auto`: when stdout is a terminal. */
    pretty: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  }).prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | null : T[K] };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables → config paths; each is parsed per the type of its default. */
const ENV_MAP: Record<string, string> = {
  CONFLUX_HTTP_HOST: 'http.host',
  CONFLUX_HTTP_PORT: 'http.port',
  CONFLUX_RTC_LISTEN_IP: 'rtc.listenIp',
  CONFLUX_RTC_ANNOUNCED_ADDRESS: 'rtc.announcedAddress',
  CONFLUX_RTC_MIN_PORT: 'rtc.minPort',
  CONFLUX_RTC_MAX_PORT: 'rtc.maxPort',
  CONFLUX_NUM_WORKERS: 'mediasoup.numWorkers',
  CONFLUX_ROOM_EMPTY_TIMEOUT: 'rooms.emptyTimeoutSeconds',
  CONFLUX_API_KEY: 'auth.apiKey',
  CONFLUX_JWT_SECRET: 'auth.jwtSecret',
  CONFLUX_GUEST_JOIN: 'auth.guestJoin',
  CONFLUX_GUEST_ROOMS_PER_SOURCE: 'auth.guestRoomsPerSource',
  CONFLUX_SIP_ENABLED: 'sip.enabled',
  CONFLUX_SIP_HOST: 'sip.host',
  CONFLUX_SIP_UDP_PORT: 'sip.udpPort',
  CONFLUX_SIP_TCP_PORT: 'sip.tcpPort',
  CONFLUX_SIP_WS_PORT: 'sip.wsPort',
  CONFLUX_SIP_DOMAIN: 'sip.domain',
  CONFLUX_SIP_MEDIA_TIMEOUT: 'sip.mediaTimeoutSeconds',
  CONFLUX_SIP_BROWSER_EARLY_MEDIA: 'sip.browserEarlyMedia',
  CONFLUX_DATA_DIR: 'dataDir',
  CONFLUX_WEBHOOK_URL: 'webhooks.url',
  CONFLUX_WEBHOOK_SECRET: 'webhooks.secret',
  CONFLUX_LOG_LEVEL: 'log.level',
};

function parseEnvValue(raw: string): unknown {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null' || raw === '') return null;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key])
      ? merge(out[key] as Record<string, unknown>, value)
      : value;
  }
  return out;
}

export interface LoadConfigOptions {
  /** JSON config file; default `$CONFLUX_CONFIG` if set. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Applied last (tests, embedding). */
  overrides?: DeepPartial<ConfigInput>;
}

/** Variables of ours that are not configuration: the config file's path, the CLI's server, and the build's and tests' own. */
const NON_CONFIG_VARIABLES = new Set(['CONFLUX_CONFIG', 'CONFLUX_CACHE_DIR', 'CONFLUX_TEST_NETNS', 'CONFLUX_IN_TEST_NETNS', 'CONFLUX_URL']);

/** Edit distance of two names (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** ` (did you mean "x"?)` for the closest of `candidates` to `name`, when one is close enough to be a typo. */
function didYouMean(name: string, candidates: Iterable<string>, quote = '"'): string {
  let best: { candidate: string; distance: number } | null = null;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean ${quote}${best.candidate}${quote}?)` : '';
}

/** The keys the schema knows at `path` (from its defaults; none where the default is null). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node: unknown = ConfigSchema.parse({});
  for (const key of path) node = isPlainObject(node) ? node[String(key)] : undefined;
  return isPlainObject(node) ? Object.keys(node) : [];
}

/** One line per problem: the setting's path, what is wrong, and for an unknown key the nearest valid one. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => {
    const where = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${[where, key].filter(Boolean).join('.')}: unknown setting${didYouMean(key, knownKeysAt(issue.path))}`).join('; ');
    }
    return `${where || '(config)'}: ${issue.message}`;
  }).join('; ');
}

/** Builds the config: defaults ← file ← environment ← overrides, validated as a whole. Unknown settings and variables are errors. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown> = {};
  const file = options.file ?? env.CONFLUX_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new ConfigError(`cannot read config file ${file}: ${reason}`);
    }
    if (!isPlainObject(parsed)) throw new ConfigError(`config file ${file}: not a JSON object`);
    raw = parsed;
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('CONFLUX_') && !(name in ENV_MAP) && !NON_CONFIG_VARIABLES.has(name)) {
      throw new ConfigError(`unknown environment variable ${name}${didYouMean(name, Object.keys(ENV_MAP), '')}`);
    }
  }
  for (const [name, path] of Object.entries(ENV_MAP)) {
    const value = env[name];
    if (value !== undefined) setPath(raw, path, parseEnvValue(value));
  }
  if (options.overrides) raw = merge(raw, options.overrides as Record<string, unknown>);
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid configuration${file ? ` (${file} and environment)` : ''}: ${describeIssues(result.error.issues)}`);
  const config = result.data;
  if (config.rtc.minPort > config.rtc.maxPort) throw new ConfigError('rtc.minPort is above rtc.maxPort');
  if (config.auth.jwtSecret && config.auth.jwtSecret.length < 32) {
    throw new ConfigError('auth.jwtSecret must be at least 32 characters');
  }
  if (config.webhooks.url && config.webhooks.secret.length < 16) {
    throw new ConfigError('webhooks.secret (at least 16 characters) is required with webhooks.url');
  }
  return config;
}

/** The config with every secret replaced by `***`, for logs. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (SECRET_KEYS.has(key) && typeof value === 'string' && value !== '') return '***';
  return value;
}

/** The address ICE candidates carry when none is configured. */
export function detectAnnouncedAddress(listenIp: string): string {
  if (listenIp !== '0.0.0.0' && listenIp !== '::') return listenIp;
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}
