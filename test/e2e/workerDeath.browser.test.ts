import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppHook } from '../../client/app/AppHook.js';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { PoolStatus } from '../../server/workers/WorkerPool.js';
import { BaresipPhone, toneLevels } from '../support/baresip.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { eventually, participants, rest } from '../support/sipCalls.js';
import { browserToneFile, joinSendingToneUnprocessed, sendToneUnprocessed, stopSipE2e } from '../support/sipE2e.js';
import { startTestServer } from '../support/testServer.js';
import { writeToneWav } from '../support/toneWav.js';

/**
 * Kills the mediasoup worker that hosts the server's one room; resolves with its pid and the pool's status the
 * moment the pool learns of it.
 */
async function killRoomWorker(server: ConfluxServer): Promise<{ pid: number; atDeath: PoolStatus }> {
  const host = server.pool.load().find((worker) => worker.routers > 0);
  if (!host || server.rooms.list().length !== 1) throw new Error(`not one room on one worker: ${JSON.stringify(server.pool.load())}`);
  const atDeath = new Promise<PoolStatus>((resolve) => server.pool.once('workerdied', () => resolve(server.pool.status())));
  process.kill(host.pid, 'SIGKILL');
  return { pid: host.pid, atDeath: await atDeath };
}

const PEERS = [{ name: 'Alice', toneHz: 440 }, { name: 'Bob', toneHz: 660 }] as const;
const HZ_TOLERANCE = 25;

describe('a mediasoup worker dies under a room: the room comes back on a live worker and the pages rejoin by themselves', () => {
  let server: ConfluxServer;
  let workDir: string;
  const pages: ConfluxPage[] = [];
  const room = `recover-${Date.now().toString(36)}`;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'conflux-worker-death-'));
    server = await startTestServer({ mediasoup: { numWorkers: 2 } });
    for (const { name, toneHz } of PEERS) {
      const toneFile = path.join(workDir, `${name}-${toneHz}.wav`);
      writeToneWav(toneFile, { frequencyHz: toneHz });
      pages.push(await ConfluxPage.launch(toneFile));
    }
  });

  afterAll(async () => {
    for (const page of pages) if (page.consoleErrors.length) console.log('page errors:', page.consoleErrors);
    await Promise.all(pages.map((page) => page.close()));
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** What each page hears: the other's tone, and nothing but it. */
  async function expectEachHearsTheOther(): Promise<void> {
    const heard = await Promise.all(pages.map((page) => page.measureRemoteAudio(2000)));
    console.log('heard', JSON.stringify(heard));
    heard.forEach((levels, index) => {
      const other = PEERS[1 - index]!;
      expect(levels, `${PEERS[index]!.name} hears one stream`).toHaveLength(1);
      expect(levels[0]!.rms).toBeGreaterThan(0.01);
      expect(Math.abs(levels[0]!.dominantHz - other.toneHz), `${PEERS[index]!.name} hears ${other.name}`).toBeLessThan(HZ_TOLERANCE);
    });
  }

  it('rebuilds the room, reports the pool degraded meanwhile, and media flows again without anyone rejoining by hand', async () => {
    for (const [index, page] of pages.entries()) {
      await page.open(`${server.httpUrl}/?room=${room}`);
      await page.joinWithForm(room, PEERS[index]!.name);
      await page.waitForStatus('joined');
    }
    await Promise.all(pages.map((page) => page.waitForRemoteMedia(1)));
    await expectEachHearsTheOther();
    const before = await Promise.all(pages.map(async (page) => (await page.snapshot())!.participantId));
    const oldRouter = server.rooms.get(room).router.id;
    // The moment the pool learns of the death, it is short of a worker: degraded, still serving.
    const host = await killRoomWorker(server);
    expect(host.atDeath).toMatchObject({ status: 'degraded', expectedWorkers: 2, workers: [expect.anything()] });

    // Both pages notice (removed: media-restart), say so, and rejoin the same room by themselves.
    await Promise.all(pages.map((page) => page.waitForStatus('reconnecting', 10_000)));
    await Promise.all(pages.map((page) => page.waitForStatus('joined', 20_000)));
    const reconnects = await Promise.all(pages.map((page) => page.page.evaluate(() => (window as unknown as { conflux: AppHook }).conflux.reconnects)));
    expect(reconnects).toEqual([1, 1]);
    const rebuilt = server.rooms.get(room);
    expect(rebuilt.router.id).not.toBe(oldRouter);
    expect(rebuilt.router.closed).toBe(false);
    const after = await Promise.all(pages.map(async (page) => (await page.snapshot())!.participantId));
    expect(after.every((id, index) => id !== before[index])).toBe(true);
    expect(server.rooms.list().filter((candidate) => candidate.name === room)).toHaveLength(1);

    await Promise.all(pages.map((page) => page.waitForRemoteMedia(1, 20_000)));
    await expectEachHearsTheOther();

    // The dead worker is replaced: ready again with two workers, the killed one gone.
    const ready = await eventually(async () => (await fetch(`${server.httpUrl}/readyz`)).json() as Promise<PoolStatus>,
      (status) => status.status === 'ready', 10_000, 'the pool to be whole again');
    expect(ready.workers).toHaveLength(2);
    expect(ready.workers.map((worker) => worker.pid)).not.toContain(host.pid);
  });
});

describe('a mediasoup worker dies under a room with a phone in it: the phone stays on its call', () => {
  const ROOM = 'phone-recover';
  const BROWSER_HZ = 440;
  const PHONE = { user: 'carol', sipPort: 28910, ctrlPort: 28915, rtpPortMin: 28920, toneHz: 1000, lifetimeMs: 120_000 };
  let server: ConfluxServer;
  let workDir: string;
  let browser: ConfluxPage;
  let phone: BaresipPhone;

  beforeAll(async () => {
    const tone = browserToneFile('worker-death-phone', BROWSER_HZ);
    workDir = tone.workDir;
    server = await startTestServer({ mediasoup: { numWorkers: 2 }, sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
    await rest(server, 'POST', '/api/v1/sip/inbound-trunks', { id: 'loopback', name: 'Loopback phones', allowedAddresses: ['127.0.0.1'] });
    await rest(server, 'POST', '/api/v1/sip/dispatch-rules', { id: 'to-room', name: 'Everything to the room', type: 'direct', room: ROOM });
    browser = await ConfluxPage.launch(tone.toneFile);
    phone = await BaresipPhone.start(PHONE);
  });

  afterAll(() => stopSipE2e({ workDir, server, browser, phones: [phone] }));

  const phoneIn = async () => (await participants(server, ROOM)).find((p) => p.kind === 'sip');

  /** What the browser hears of the phone, once it hears it (or after 10 s). */
  async function browserHearsPhone(participantId: string): Promise<{ rms: number; dominantHz: number } | undefined> {
    const deadline = Date.now() + 10_000;
    let heard: { rms: number; dominantHz: number } | undefined;
    do {
      heard = (await browser.measureRemoteAudio(1500)).find((level) => level.participantId === participantId);
    } while ((heard?.rms ?? 0) < 0.05 && Date.now() < deadline);
    return heard;
  }

  it('keeps the call (no BYE), puts the phone back in the rebuilt room, and both hear each other again', async () => {
    await joinSendingToneUnprocessed(browser, server, ROOM);
    phone.dial(`sip:${ROOM}@127.0.0.1:${server.sip!.ports.udp}`);
    await phone.waitForEvent('CALL_ESTABLISHED');
    const first = await eventually(phoneIn, (p) => p?.producers.length === 1, 5000, 'the phone in the room');
    const [call] = await eventually(() => server.sipCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
    expect((await browserHearsPhone(first!.id))?.rms).toBeGreaterThan(0.05);

    await killRoomWorker(server);
    // The page may still say `joined` before its removal arrives: wait for it to have rejoined.
    await browser.page.waitForFunction(() => {
      const hook = (window as unknown as { conflux: AppHook }).conflux;
      return hook.reconnects === 1 && hook.status === 'joined';
    }, undefined, { timeout: 20_000 });
    await sendToneUnprocessed(browser);
    // The phone is back as a new participant of the rebuilt room, on the same call.
    const again = await eventually(phoneIn, (p) => p !== undefined && p.id !== first!.id && p.producers.length === 1, 10_000, 'the phone back in the room');
    expect(again!.producers.map((p) => p.kind)).toEqual(['audio']);
    expect(server.sipCalls!.get(call!.id)).toMatchObject({ state: 'active', participantId: again!.id });
    expect(phone.eventTypes).not.toContain('CALL_CLOSED');
    const heard = await browserHearsPhone(again!.id);
    console.log('after the restart the browser hears the phone', heard);
    expect(heard?.rms).toBeGreaterThan(0.05);
    expect(Math.abs(heard!.dominantHz - PHONE.toneHz)).toBeLessThan(25);

    // The phone hears the rejoined browser (the last 1.5 s of its recording, well after the restart).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', 10_000);
    const levels = toneLevels(await phone.lastRecording(), [BROWSER_HZ, PHONE.toneHz], 1.5, 0.3);
    console.log('the phone heard', levels.tones);
    expect(levels.tones[BROWSER_HZ]).toBeGreaterThan(0.05);
    await eventually(() => server.sipCalls!.list(), (list) => list.every((c) => c.state === 'ended'), 5000, 'the call to end');
    expect(server.sipCalls!.get(call!.id)).toMatchObject({ endReason: 'remote-hangup' });
  });
});
