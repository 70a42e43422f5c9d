import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/Config.js';
import { ApiClient, CliError, EXIT } from './ApiClient.js';
import { localServer } from './localServer.js';
import { table } from './table.js';

/**
 * `conflux`: the server's REST API from a shell. It finds the server's URL and API key by itself on the machine
 * the server runs on (the configuration `npm start` reads, and the key generated in its data directory);
 * elsewhere `--url`/`--api-key` or CONFLUX_URL/CONFLUX_API_KEY. Tables for people, `--json` for scripts. Exit
 * codes: 0 done, 1 the server refused (the message says why), 2 wrong usage or configuration, 3 the server
 * cannot be reached, 4 the API key was refused.
 */

interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

type Row = Record<string, unknown>;

const program = new Command('conflux')
  .description('Manage a conflux server: rooms, participants, tokens, SIP trunks, rules, routes and calls')
  .addOption(new Option('--url <url>', 'the server (default: this machine\'s, from its configuration)').env('CONFLUX_URL'))
  .addOption(new Option('--api-key <key>', 'the REST API key (default: this machine\'s server key)').env('CONFLUX_API_KEY'))
  .option('--json', 'print JSON (for scripts) instead of tables')
  .showHelpAfterError()
  .exitOverride();

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

/** The API of the server the options name, else of this machine's. */
function client(): ApiClient {
  const { url, apiKey } = globals();
  if (url) {
    if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError(`--url must be an http(s) URL, not ${url}`, EXIT.usage);
    return new ApiClient(url.replace(/\/+$/, ''), apiKey ?? null);
  }
  let local;
  try {
    local = localServer();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`cannot read this machine's configuration: ${error.message}`, EXIT.usage);
    throw error;
  }
  const key = apiKey ?? local.apiKey;
  if (!key) throw new CliError(`no API key: the server writes one to ${local.keyFile} when it first starts; or give --api-key`, EXIT.usage);
  return new ApiClient(local.url, key);
}

/** Prints `data` as JSON with --json, else as `human` renders it. */
function print(data: unknown, human: () => string): void {
  process.stdout.write(globals().json ? `${JSON.stringify(data, null, 2)}\n` : human());
}

function done(message: string, data: unknown = { ok: true }): void {
  print(data, () => `${message}\n`);
}

function integer(name: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

/** A request body from `--data`: inline JSON, or `@file`. */
function jsonBody(value: string): Row {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Row;
  } catch (error) {
    throw new InvalidArgumentError(`--data is not a JSON object (${(error as Error).message})`);
  }
}

const seg = encodeURIComponent;

// ---- health ----
program.command('health').description('liveness and readiness of the server (each mediasoup worker)').action(async () => {
  const api = client();
  const [live, ready] = await Promise.all([api.probe('/healthz'), api.probe('/readyz')]);
  const readiness = ready.body as { status?: string; expectedWorkers?: number; workers?: Row[] } | null;
  print({ live: live.status === 200, ...readiness }, () => `live: ${live.status === 200 ? 'yes' : 'no'}\n`
    + `ready: ${readiness?.status ?? ready.status} (${readiness?.workers?.length ?? 0} of ${readiness?.expectedWorkers ?? '?'} workers)\n`
    + table(readiness?.workers ?? [], [['pid', 'WORKER PID'], ['routers', 'ROUTERS']]));
  if (ready.status !== 200) process.exitCode = EXIT.refused;
});

// ---- rooms ----
const rooms = program.command('rooms').description('rooms');
rooms.command('list').description('every room, in name order').action(async () => {
  const api = client();
  const all: Row[] = [];
  for (let after: string | null = null, pages = 0; pages < 1000; pages++) {
    const page: { rooms: Row[]; next: string | null } = await api.request('GET', `/rooms?limit=500${after ? `&after=${seg(after)}` : ''}`);
    all.push(...page.rooms);
    after = page.next;
    if (!after) break;
  }
  print({ rooms: all }, () => table(all, [['name', 'NAME'], ['numParticipants', 'PARTICIPANTS'], ['maxParticipants', 'MAX'], ['createdAt', 'CREATED']]));
});
rooms.command('create <name>').description('create a room (an existing one is left as it is)')
  .option('--max-participants <n>', 'seats', integer('--max-participants'))
  .option('--empty-timeout <seconds>', 'close this long after the last one leaves', integer('--empty-timeout'))
  .action(async (name: string, options: { maxParticipants?: number; emptyTimeout?: number }) => {
    const { room } = await client().request<{ room: Row }>('POST', '/rooms', {
      name, ...(options.maxParticipants !== undefined ? { maxParticipants: options.maxParticipants } : {}),
      ...(options.emptyTimeout !== undefined ? { emptyTimeoutSeconds: options.emptyTimeout } : {}),
    });
    done(`room ${String(room.name)} ready`, room);
  });
rooms.command('delete <name>').description('close a room: everyone in it is removed').action(async (name: string) => {
  await client().request('DELETE', `/rooms/${seg(name)}`);
  done(`room ${name} closed`);
});

// ---- participants ----
const participants = program.command('participants').description('participants of a room');
participants.command('list <room>').action(async (room: string) => {
  const { participants: list } = await client().request<{ participants: Row[] }>('GET', `/rooms/${seg(room)}/participants`);
  print({ participants: list }, () => table(list.map((p) => ({
    ...p, media: (p.producers as Array<{ kind: string; paused?: boolean }>).map((m) => `${m.kind}${m.paused ? '(muted)' : ''}`),
    number: (p.attributes as Row | undefined)?.['sip.from'],
  })), [['id', 'ID'], ['identity', 'IDENTITY'], ['displayName', 'NAME'], ['kind', 'KIND'], ['number', 'SIP FROM'], ['media', 'MEDIA']]));
});
participants.command('mute <room> <participant>').description('mute (or --unmute) a participant\'s audio or video')
  .addOption(new Option('--kind <kind>', 'what to mute').choices(['audio', 'video']).default('audio'))
  .option('--unmute', 'unmute instead')
  .action(async (room: string, participant: string, options: { kind: 'audio' | 'video'; unmute?: boolean }) => {
    await client().request('POST', `/rooms/${seg(room)}/participants/${seg(participant)}/mute`, { kind: options.kind, muted: !options.unmute });
    done(`${options.kind} of ${participant} ${options.unmute ? 'unmuted' : 'muted'}`);
  });
participants.command('kick <room> <participant>').description('remove a participant (a phone is hung up)').action(async (room: string, participant: string) => {
  await client().request('DELETE', `/rooms/${seg(room)}/participants/${seg(participant)}`);
  done(`${participant} removed from ${room}`);
});

// ---- tokens ----
program.command('tokens').description('join tokens').command('create').description('a join token, and the link that uses it')
  .requiredOption('--room <room>', 'room it admits to').requiredOption('--identity <identity>', 'who it admits')
  .option('--name <name>', 'display name').option('--ttl <seconds>', 'lifetime', integer('--ttl'))
  .action(async (options: { room: string; identity: string; name?: string; ttl?: number }) => {
    const issued = await client().request<Row>('POST', '/tokens', {
      room: options.room, identity: options.identity, ...(options.name ? { name: options.name } : {}), ...(options.ttl ? { ttlSeconds: options.ttl } : {}),
    });
    print(issued, () => `${String(issued.token)}\n`);
  });

// ---- SIP configuration: trunks, dispatch rules, routes ----
/** list / create / update / delete for one collection of the SIP configuration. */
function configCommands(parent: Command, path: string, key: string, label: string, columns: Array<[string, string]>): void {
  parent.command('list').description(`every ${label}`).action(async () => {
    const body = await client().request<Row>('GET', `/sip${path}`);
    const list = (body[key] ?? []) as Row[];
    print({ [key]: list }, () => table(list, columns));
  });
  parent.command('create').description(`add a ${label} (fields as in the REST API / OpenAPI document)`)
    .requiredOption('--data <json>', 'the body: JSON, or @file', jsonBody)
    .action(async (options: { data: Row }) => {
      const created = await client().request<Row>('POST', `/sip${path}`, options.data);
      done(`${label} ${String(created.id)} created`, created);
    });
  parent.command('update <id>').description(`replace a ${label}`)
    .requiredOption('--data <json>', 'the whole new body: JSON, or @file', jsonBody)
    .action(async (id: string, options: { data: Row }) => {
      const updated = await client().request<Row>('PUT', `/sip${path}/${seg(id)}`, { ...options.data, id });
      done(`${label} ${id} updated`, updated);
    });
  parent.command('delete <id>').description(`remove a ${label}`).action(async (id: string) => {
    await client().request('DELETE', `/sip${path}/${seg(id)}`);
    done(`${label} ${id} deleted`);
  });
}
const trunks = program.command('trunks').description('SIP trunks');
configCommands(trunks.command('inbound').description('trunks calls come in on'), '/inbound-trunks', 'inboundTrunks', 'inbound trunk',
  [['id', 'ID'], ['name', 'NAME'], ['allowedAddresses', 'ADDRESSES'], ['numbers', 'NUMBERS'], ['codecs', 'CODECS']]);
configCommands(trunks.command('outbound').description('trunks calls go out on'), '/outbound-trunks', 'outboundTrunks', 'outbound trunk',
  [['id', 'ID'], ['name', 'NAME'], ['host', 'HOST'], ['port', 'PORT'], ['transport', 'TRANSPORT'], ['fromNumber', 'FROM'], ['register', 'REGISTER']]);
configCommands(program.command('rules').description('dispatch rules: which room a call goes to'), '/dispatch-rules', 'dispatchRules', 'dispatch rule',
  [['id', 'ID'], ['name', 'NAME'], ['type', 'TYPE'], ['room', 'ROOM'], ['roomPrefix', 'PREFIX'], ['trunkIds', 'TRUNKS'], ['priority', 'PRIORITY']]);
configCommands(program.command('routes').description('gateway routes: users ⇄ trunks'), '/routes', 'routes', 'route',
  [['id', 'ID'], ['name', 'NAME'], ['type', 'TYPE'], ['prefixes', 'PREFIXES'], ['numbers', 'NUMBERS'], ['outboundTrunkId', 'TRUNK'], ['user', 'USER'], ['priority', 'PRIORITY']]);

// ---- calls ----
const CALL_COLUMNS: Array<[string, string]> = [['id', 'CALL-ID'], ['direction', 'DIR'], ['state', 'STATE'], ['room', 'ROOM'], ['from', 'FROM'],
  ['to', 'TO'], ['codec', 'CODEC'], ['endReason', 'ENDED']];
const calls = program.command('calls').description('SIP calls');
calls.command('list').description('calls in progress and recently ended').option('--active', 'only calls in progress')
  .action(async (options: { active?: boolean }) => {
    const { calls: list } = await client().request<{ calls: Row[] }>('GET', '/sip/calls');
    const shown = options.active ? list.filter((call) => call.state !== 'ended') : list;
    print({ calls: shown }, () => table(shown, CALL_COLUMNS));
  });
calls.command('dial').description('call a phone into a room; waits for the answer')
  .requiredOption('--room <room>', 'the room').requiredOption('--to <number|uri>', 'a number (with --trunk) or sip:user@domain')
  .option('--trunk <id>', 'outbound trunk').option('--name <display>', 'the name the phone sees')
  .option('--ring-timeout <seconds>', 'how long it may ring', integer('--ring-timeout'))
  .action(async (options: { room: string; to: string; trunk?: string; name?: string; ringTimeout?: number }) => {
    const result = await client().request<{ outcome: string; call: Row }>('POST', '/sip/calls', {
      room: options.room, to: options.to, ...(options.trunk ? { trunkId: options.trunk } : {}),
      ...(options.name ? { displayName: options.name } : {}), ...(options.ringTimeout ? { ringTimeoutSeconds: options.ringTimeout } : {}),
    });
    const { status, reason } = result.call;
    print(result, () => `${result.outcome}: ${String(result.call.id)}${status ? ` (SIP ${String(status)}${reason ? `: ${String(reason)}` : ''})` : ''}\n`);
    if (result.outcome !== 'answered') process.exitCode = EXIT.refused;
  });
calls.command('hangup <id>').description('end a call').action(async (id: string) => {
  await client().request('DELETE', `/sip/calls/${seg(id)}`);
  done(`call ${id} ended`);
});
calls.command('dtmf <id> <digits>').description('send key presses (0-9, A-D, * and #) to a phone').action(async (id: string, digits: string) => {
  await client().request('POST', `/sip/calls/${seg(id)}/dtmf`, { digits });
  done(`sent ${digits} to ${id}`);
});

// ---- registrations ----
program.command('registrations').description('our registrations with outbound trunks').action(async () => {
  const { registrations } = await client().request<{ registrations: Row[] }>('GET', '/sip/registrations');
  print({ registrations }, () => table(registrations, [['trunkId', 'TRUNK'], ['aor', 'AOR'], ['state', 'STATE'], ['expiresSec', 'EXPIRES S'], ['lastStatus', 'LAST'], ['lastReason', 'REASON']]));
});

// ---- events ----
program.command('events').description('follow the event stream (rooms, participants, calls), one line each')
  .option('--count <n>', 'stop after this many events', integer('--count'))
  .action(async (options: { count?: number }) => {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    let seen = 0;
    try {
      for await (const event of client().events(controller.signal)) {
        const { type, at, id: _id, ...rest } = event as { type: string; at?: string; id?: number } & Row;
        process.stdout.write(globals().json ? `${JSON.stringify(event)}\n` : `${at ?? new Date().toISOString()}  ${type}  ${JSON.stringify(rest)}\n`);
        if (options.count !== undefined && ++seen >= options.count) break;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  });

// ---- the key ----
program.command('api-key').description('print the API key this machine\'s server uses').action(() => {
  const { apiKey } = globals();
  let key = apiKey ?? null;
  let file = '';
  if (!key) {
    try {
      ({ apiKey: key, keyFile: file } = localServer());
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message, EXIT.usage);
      throw error;
    }
  }
  if (!key) throw new CliError(`no API key yet: the server generates one in ${file} when it first starts (npm start)`, EXIT.refused);
  process.stdout.write(`${key}\n`);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not failures; commander has printed what went wrong otherwise.
    process.exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version' ? 0 : EXIT.usage;
  } else if (error instanceof CliError) {
    process.stderr.write(`conflux: ${error.message}\n`);
    process.exitCode = error.code;
  } else {
    process.stderr.write(`conflux: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.refused;
  }
}
