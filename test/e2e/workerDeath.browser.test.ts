import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppHook } from '../../client/app/AppHook.js';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { PoolStatus } from '../../server/workers/WorkerPool.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { eventually } from '../support/sipCalls.js';
import { startTestServer } from '../support/testServer.js';
import { writeToneWav } from '../support/toneWav.js';

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
    const host = server.pool.load().find((worker) => worker.routers === 1)!;
    expect(host, JSON.stringify(server.pool.load())).toBeDefined();

    // The moment the pool learns of the death, it is short of a worker: degraded, still serving.
    const atDeath = new Promise<PoolStatus>((resolve) => server.pool.once('workerdied', () => resolve(server.pool.status())));
    process.kill(host.pid, 'SIGKILL');
    expect(await atDeath).toMatchObject({ status: 'degraded', expectedWorkers: 2, workers: [expect.anything()] });

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
