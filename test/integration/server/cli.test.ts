import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../../server/ConfluxServer.js';
import { OPUS_RTP_PARAMETERS, SignallingTestClient } from '../../support/SignallingTestClient.js';
import { startTestServer, TEST_API_KEY } from '../../support/testServer.js';

const CLI = path.resolve('scripts/conflux');

interface Run { code: number; stdout: string; stderr: string }

/** Runs the `conflux` command as a user would (the package's bin), with `env` added to a clean environment. */
function conflux(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(CLI, args, { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('the conflux CLI against a running server', () => {
  let server: ConfluxServer;
  let workDir: string;
  let remote: (args: string[]) => Promise<Run>;
  /** `--json` output of a command that must succeed. */
  let json: <T = Record<string, unknown>>(args: string[]) => Promise<T>;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'conflux-cli-'));
    server = await startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
    remote = (args) => conflux(['--url', server.httpUrl, '--api-key', TEST_API_KEY, ...args]);
    json = async <T,>(args: string[]) => {
      const run = await remote(['--json', ...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
      return JSON.parse(run.stdout) as T;
    };
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('reports health and readiness, per worker', async () => {
    expect(await json(['health'])).toMatchObject({ live: true, status: 'ready', expectedWorkers: 1, workers: [{ pid: server.pool.workers[0]!.pid }] });
    const human = await remote(['health']);
    expect(human.stdout).toMatch(/^live: yes\nready: ready \(1 of 1 workers\)\nWORKER PID +ROUTERS\n/);
  });

  it('creates, lists and deletes rooms; tables for people, JSON for scripts', async () => {
    expect(await json(['rooms', 'create', 'cli-room', '--max-participants', '3'])).toMatchObject({ name: 'cli-room', maxParticipants: 3 });
    expect((await json<{ rooms: Array<{ name: string }> }>(['rooms', 'list'])).rooms.map((room) => room.name)).toContain('cli-room');
    const table = await remote(['rooms', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME +PARTICIPANTS +MAX +CREATED$/);
    expect(table.stdout).toMatch(/^cli-room +0 +3 /m);
    expect((await remote(['rooms', 'delete', 'cli-room'])).stdout).toBe('room cli-room closed\n');
    expect(server.rooms.find('cli-room')).toBeUndefined();
  });

  it('makes a token that joins, lists, mutes and kicks the participant', async () => {
    const issued = await json<{ token: string }>(['tokens', 'create', '--room', 'ops', '--identity', 'alice', '--name', 'Alice']);
    const alice = await SignallingTestClient.connect(server.httpUrl);
    try {
      const joined = await alice.call<{ participantId: string }>('join', { token: issued.token });
      const send = await alice.call<{ id: string }>('createWebRtcTransport', { direction: 'send' });
      await alice.call('produce', { transportId: send.id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS });
      const listed = await json<{ participants: Array<{ id: string; identity: string }> }>(['participants', 'list', 'ops']);
      expect(listed.participants).toEqual([expect.objectContaining({ id: joined.participantId, identity: 'alice' })]);
      expect((await remote(['participants', 'list', 'ops'])).stdout).toMatch(/alice +Alice +webrtc +- +audio\n$/);
      expect((await remote(['participants', 'mute', 'ops', joined.participantId])).code).toBe(0);
      expect((await json<{ participants: Array<{ producers: Array<{ paused: boolean }> }> }>(['participants', 'list', 'ops']))
        .participants[0]!.producers[0]!.paused).toBe(true);
      expect((await remote(['participants', 'mute', 'ops', joined.participantId, '--unmute'])).stdout).toMatch(/unmuted/);
      expect((await remote(['participants', 'kick', 'ops', joined.participantId])).code).toBe(0);
      await alice.waitFor('removed', (data) => data.reason === 'kicked');
    } finally {
      alice.close();
    }
  });

  it('manages trunks, dispatch rules and routes from inline JSON or a file, and says why the server refuses', async () => {
    expect(await json(['trunks', 'inbound', 'create', '--data', '{"id":"pbx-in","name":"PBX","allowedAddresses":["192.0.2.10"]}']))
      .toMatchObject({ id: 'pbx-in' });
    const file = path.join(workDir, 'trunk.json');
    writeFileSync(file, JSON.stringify({ id: 'pbx', name: 'PBX', host: '192.0.2.10', fromNumber: '2000' }));
    expect(await json(['trunks', 'outbound', 'create', '--data', `@${file}`])).toMatchObject({ id: 'pbx', host: '192.0.2.10' });
    expect(await json(['rules', 'create', '--data', '{"id":"all","name":"all","type":"direct","room":"lobby"}'])).toMatchObject({ id: 'all' });
    expect(await json(['routes', 'create', '--data', '{"id":"out","name":"out","type":"user-to-trunk","outboundTrunkId":"pbx"}']))
      .toMatchObject({ id: 'out' });
    expect((await json<{ outboundTrunks: unknown[] }>(['trunks', 'outbound', 'list'])).outboundTrunks).toHaveLength(1);
    expect((await remote(['routes', 'list'])).stdout).toMatch(/^out +out +user-to-trunk +- +- +pbx /m);
    expect((await json(['rules', 'update', 'all', '--data', '{"name":"everything","type":"direct","room":"hall"}']))).toMatchObject({ room: 'hall' });

    // The trunk is used by the route: the server's 409 and its reason, exit 1.
    const refused = await remote(['trunks', 'outbound', 'delete', 'pbx']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^conflux: DELETE \/sip\/outbound-trunks\/pbx: 409 outbound trunk pbx is used by route out\n$/);
    expect((await remote(['routes', 'delete', 'out'])).code).toBe(0);
    expect((await remote(['trunks', 'outbound', 'delete', 'pbx'])).code).toBe(0);
    const invalid = await remote(['rules', 'create', '--data', '{"id":"x","name":"x","type":"direct"}']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/400 .*room/);
    const notJson = await remote(['rules', 'create', '--data', '{nope']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/--data is not a JSON object/);
    expect((await remote(['rules', 'create', '--data', '@/nonexistent.json'])).stderr).toMatch(/cannot read \/nonexistent\.json: ENOENT/);
  });

  it('lists calls and registrations, and refuses a bad dial-out, hang-up or key press with the reason', async () => {
    expect(await json(['calls', 'list', '--active'])).toEqual({ calls: [] });
    expect(await json(['registrations'])).toEqual({ registrations: [] });
    const dial = await remote(['calls', 'dial', '--room', 'lobby', '--to', '+15550100', '--trunk', 'nope']);
    expect(dial.code).toBe(1);
    expect(dial.stderr).toMatch(/POST \/sip\/calls: 404 .*nope/);
    expect((await remote(['calls', 'hangup', 'no-such-call'])).stderr).toMatch(/404/);
    // A trunk whose host does not resolve: the call fails, and the answer says why.
    expect((await remote(['trunks', 'outbound', 'create', '--data', '{"id":"nowhere","name":"nowhere","host":"sip.example.invalid","fromNumber":"1"}'])).code).toBe(0);
    const unresolved = await remote(['calls', 'dial', '--room', 'lobby', '--to', '+15550100', '--trunk', 'nowhere']);
    expect(unresolved.code).toBe(1);
    expect(unresolved.stdout).toMatch(/^failed: \S+ \(SIP 503: dns: sip\.example\.invalid not found \((ENOTFOUND|EAI_AGAIN|EAI_NONAME)\)\)\n$/);
    const listed = await json<{ calls: Array<{ trunkId: string; reason: string; endReason: string }> }>(['calls', 'list']);
    expect(listed.calls.find((call) => call.trunkId === 'nowhere')).toMatchObject({ endReason: 'failed', reason: expect.stringMatching(/^dns: /) });
    const dtmf = await remote(['calls', 'dtmf', 'no-such-call', 'xyz']);
    expect(dtmf.code).toBe(1);
    expect(dtmf.stderr).toMatch(/400 digits: 1-32 of 0-9/);
  });

  it('follows the event stream', async () => {
    const following = remote(['--json', 'events', '--count', '1']);
    // The stream is open once the CLI has connected: make events until it has one.
    let run: Run | null = null;
    void following.then((result) => { run = result; });
    for (let i = 0; i < 50 && !run; i++) {
      await server.rooms.getOrCreate(`evt-${i}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await following;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ type: 'room_created', room: expect.stringMatching(/^evt-/) });
  });

  it('exits with a code that says what went wrong: wrong key 4, unreachable 3, wrong usage 2', async () => {
    const wrongKey = await conflux(['--url', server.httpUrl, '--api-key', 'not-the-key', 'rooms', 'list']);
    expect(wrongKey.code).toBe(4);
    expect(wrongKey.stderr).toMatch(/the server refused the API key \(401/);
    // A port nobody listens on: one the kernel just handed out and took back.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const down = await conflux(['--url', `http://127.0.0.1:${closed}`, '--api-key', 'x', 'rooms', 'list']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(new RegExp(`cannot reach the server at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`));
    const usage = await conflux(['rooms', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown command 'frobnicate'/);
    expect((await conflux(['rooms', 'create', 'x', '--max-participants', 'many'])).stderr).toMatch(/--max-participants must be a whole number/);
    expect((await conflux(['--help'])).code).toBe(0);
  });

  it('finds this machine\'s server and key by itself: the config file, or the key generated in the data directory', async () => {
    const config = path.join(workDir, 'config.json');
    writeFileSync(config, JSON.stringify({ http: { host: '0.0.0.0', port: Number(new URL(server.httpUrl).port) }, auth: { apiKey: TEST_API_KEY } }));
    expect((await conflux(['--json', 'rooms', 'list'], { CONFLUX_CONFIG: config })).code).toBe(0);
    expect((await conflux(['api-key'], { CONFLUX_CONFIG: config })).stdout).toBe(`${TEST_API_KEY}\n`);

    // A server that generated its key: found in its data directory.
    const dataDir = mkdtempSync(path.join(workDir, 'data-'));
    const generated = await startTestServer({ auth: { apiKey: '' }, dataDir });
    try {
      const env = { CONFLUX_HTTP_PORT: new URL(generated.httpUrl).port, CONFLUX_DATA_DIR: dataDir, CONFLUX_HTTP_HOST: '127.0.0.1' };
      const key = (await conflux(['api-key'], env)).stdout.trim();
      expect(key).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(await conflux(['--json', 'rooms', 'list'], env)).toMatchObject({ code: 0, stdout: expect.stringContaining('"rooms"') });
      // Nothing generated yet in an empty data directory: the CLI says where the key will be.
      const empty = await conflux(['rooms', 'list'], { ...env, CONFLUX_DATA_DIR: mkdtempSync(path.join(workDir, 'empty-')) });
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/no API key: the server writes one to .*empty-.* when it first starts/);
      // A configuration the server would refuse is refused here too, in one line.
      const typo = await conflux(['rooms', 'list'], { CONFLUX_HTTP_PROT: '9' });
      expect(typo.code).toBe(2);
      expect(typo.stderr).toMatch(/CONFLUX_HTTP_PROT \(did you mean CONFLUX_HTTP_PORT\?\)/);
    } finally {
      await generated.close();
    }
  });
});
