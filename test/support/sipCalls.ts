import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { SipCallInfo } from '../../sip-connector/calls/SipCallTypes.js';
import { scratchDir, spawnPeer, stopAllPeers, type Peer } from '../integration/sip-connector/peers.js';
import { api, startTestServer } from './testServer.js';

export const SIP_FIXTURES = resolve(import.meta.dirname, '../fixtures/sip');
export const CALL_SCENARIOS = join(SIP_FIXTURES, 'sipp/calls');
const DTMF_PCAPS = '/usr/share/sip-tester';

/** The whole server with SIP on ephemeral loopback ports and a 5 s media timeout. */
export function startSipServer(): Promise<ConfluxServer> {
  return startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0, mediaTimeoutSeconds: 5 } });
}

/**
 * The SIP server of a file whose SIPp callers come in as the open "office PBX" trunk: every call from
 * `address` is taken, the file's own dispatch rules (and trunks) pick where it goes.
 */
export async function startOfficeSipServer(address = '127.0.0.1'): Promise<ConfluxServer> {
  const server = await startSipServer();
  await configure(server, 'inbound-trunks', { id: 'office', name: 'office PBX', allowedAddresses: [address] });
  return server;
}

/** For afterAll: stops every peer still running, then the server (if it started). */
export async function stopPeersAndServer(server: ConfluxServer | undefined): Promise<void> {
  await stopAllPeers();
  await server?.close();
}

export function sipUdpPort(server: ConfluxServer): number {
  const port = server.sip?.ports.udp;
  if (port === undefined) throw new Error('SIP over UDP is not listening');
  return port;
}

/** A REST call that answers with status and parsed JSON body (null for 204). */
export async function rest<T = Record<string, unknown>>(server: ConfluxServer, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await api(server, method, route, body);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Creates trunks and rules through the REST API, failing loudly on a validation error. */
export async function configure(server: ConfluxServer, kind: 'inbound-trunks' | 'outbound-trunks' | 'dispatch-rules' | 'routes', item: object): Promise<void> {
  const { status, body } = await rest(server, 'POST', `/api/v1/sip/${kind}`, item);
  if (status !== 201) throw new Error(`POST ${kind} answered ${status}: ${JSON.stringify(body)}`);
}

/** Polls an async predicate until it holds; rejects with `what` (and the last value seen) after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  let last: T | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await probe();
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

export interface ParticipantView {
  id: string;
  identity: string;
  kind: string;
  attributes: Record<string, string>;
  producers: Array<{ id: string; kind: string }>;
}

/** Participants of a room through REST; none when the room does not exist (any more). */
export async function participants(server: ConfluxServer, room: string): Promise<ParticipantView[]> {
  const { status, body } = await rest<{ participants: ParticipantView[] }>(server, 'GET', `/api/v1/rooms/${room}/participants`);
  return status === 200 ? body.participants : [];
}

export async function calls(server: ConfluxServer): Promise<SipCallInfo[]> {
  return (await rest<{ calls: SipCallInfo[] }>(server, 'GET', '/api/v1/sip/calls')).body.calls;
}

/** Sends an out-of-dialog OPTIONS over UDP from a plain socket and resolves with the status line. */
export async function optionsStatusLine(port: number): Promise<string> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  try {
    const local = socket.address().port;
    const request = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-probe${Date.now()}`,
      'Max-Forwards: 70', `From: <sip:probe@127.0.0.1:${local}>;tag=probe`, `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: probe-${Date.now()}@127.0.0.1`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
    const reply = new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no answer to OPTIONS')), 3000);
      socket.once('message', (data) => {
        clearTimeout(timer);
        res(data.toString().split('\r\n')[0] ?? '');
      });
    });
    socket.send(request, port, '127.0.0.1');
    return await reply;
  } finally {
    socket.close();
  }
}

/**
 * What must hold once every call is over: no call in progress, no `sip` participant in any room, no
 * transport left in any room's router (phone legs use PlainTransports), and SIP still answering.
 */
export async function expectNothingLeft(server: ConfluxServer): Promise<string[]> {
  const problems: string[] = [];
  const live = (await calls(server)).filter((call) => call.state !== 'ended');
  if (live.length > 0) problems.push(`calls in progress: ${JSON.stringify(live)}`);
  for (const room of server.rooms.list()) {
    const phones = room.participants.filter((p) => p.kind === 'sip').map((p) => p.identity);
    if (phones.length > 0) problems.push(`room ${room.name} still has sip participants ${phones.join(', ')}`);
    const dump = await room.router.dump();
    if (dump.transportIds.length > 0) problems.push(`room ${room.name} router still has transports ${dump.transportIds.join(', ')}`);
  }
  const status = await optionsStatusLine(sipUdpPort(server)).catch((error: unknown) => String(error));
  if (status !== 'SIP/2.0 200 OK') problems.push(`OPTIONS answered: ${status}`);
  return problems;
}

const SIPP_COMMON = ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-nostdin', '-m', '1', '-timeout_error'];

export interface SippRun {
  peer: Peer;
  /** Exit code and output once SIPp is done. */
  result: Promise<{ code: number | null; out: string }>;
}

/** Starts SIPp with a hard kill timer; `timeoutSeconds` is also SIPp's own global timeout. */
export function sipp(args: string[], opts: { timeoutSeconds: number; localIp?: string }): SippRun {
  let common = opts.localIp ? SIPP_COMMON.map((arg) => (arg === '127.0.0.1' ? opts.localIp! : arg)) : SIPP_COMMON;
  // One call unless the test asks for more.
  if (args.includes('-m')) common = common.filter((arg, i) => arg !== '-m' && common[i - 1] !== '-m');
  const peer = spawnPeer('sipp', [...args, ...common, '-timeout', `${opts.timeoutSeconds}s`],
    { cwd: scratchDir('sipp-calls'), timeoutMs: (opts.timeoutSeconds + 5) * 1000 });
  return { peer, result: peer.exited.then((code) => ({ code, out: peer.output() })) };
}

/** Placeholders a test may leave out: the caller's pause after its ACK. */
const SCENARIO_DEFAULTS: Record<string, string> = { ACK_PAUSE_MS: '500' };

/** Fills a scenario template's @NAME@ placeholders and writes it into a scratch directory. */
export function scenario(template: string, values: Record<string, string>): string {
  let text = readFileSync(join(CALL_SCENARIOS, template), 'utf8');
  for (const [name, value] of Object.entries({ ...SCENARIO_DEFAULTS, ...values })) text = text.replaceAll(`@${name}@`, value);
  const leftover = /@[A-Z_]+@/.exec(text);
  if (leftover) throw new Error(`${template}: ${leftover[0]} not filled in`);
  const file = join(scratchDir('scenario'), template);
  writeFileSync(file, text);
  return file;
}

/**
 * Scenario steps playing RFC 4733 key presses from SIPp's pcaps, one every 400 ms. No pause follows the
 * last one: SIPp aborts on a request arriving during a pause, and the far end may answer the last digit
 * with a BYE straight away.
 */
export function dtmfSteps(digits: string): string {
  return [...digits].map((digit) => {
    const name = digit === '#' ? 'pound' : digit === '*' ? 'star' : digit;
    return `  <nop><action><exec play_pcap_audio="${DTMF_PCAPS}/dtmf_2833_${name}.pcap"/></action></nop>`;
  }).join('\n  <pause milliseconds="400"/>\n');
}

/** Scenario steps: hang up with BYE after `pauseMs`. */
export function byeSteps(pauseMs: number, cseq = 2): string {
  return `  <pause milliseconds="${pauseMs}"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: ${cseq} BYE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>`;
}

/** Scenario steps: wait up to `timeoutMs` for the far end's BYE and answer it. */
export function awaitByeSteps(timeoutMs: number): string {
  return `  <recv request="BYE" timeout="${timeoutMs}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>`;
}
