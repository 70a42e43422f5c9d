import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppHook } from '../../client/app/AppHook.js';
import type { ParticipantInfo } from '../../server/signalling/SignallingMessages.js';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { writeToneWav } from '../support/toneWav.js';
import { startTestServer, TEST_API_KEY } from '../support/testServer.js';

const SCREENSHOT = '/tmp/conflux-grid.png';
// Each browser's fake microphone plays its own tone, so a receiver can tell who it hears.
const PEERS = [
  { name: 'Alice', toneHz: 440 },
  { name: 'Bob', toneHz: 660 },
  { name: 'Carol', toneHz: 880 },
] as const;
type PeerName = (typeof PEERS)[number]['name'];

describe('rooms with three headless Chromium browsers running the conflux web client', () => {
  let server: ConfluxServer;
  let workDir: string;
  const pages = new Map<PeerName, ConfluxPage>();
  const room = `e2e-${Date.now().toString(36)}`;

  const page = (name: PeerName): ConfluxPage => {
    const found = pages.get(name);
    if (!found) throw new Error(`no page for ${name}`);
    return found;
  };

  async function rest(method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${server.httpUrl}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  }

  async function restParticipants(): Promise<ParticipantInfo[]> {
    const { status, json } = await rest('GET', `/rooms/${room}/participants`);
    expect(status).toBe(200);
    return (json as { participants: ParticipantInfo[] }).participants;
  }

  async function participantIdOf(name: PeerName): Promise<string> {
    const id = (await page(name).snapshot())?.participantId;
    if (!id) throw new Error(`${name} has no participant id`);
    return id;
  }

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'conflux-e2e-'));
    server = await startTestServer({ rtc: { announcedAddress: null } });
    await Promise.all(PEERS.map(async ({ name, toneHz }) => {
      const toneFile = path.join(workDir, `${name}-${toneHz}.wav`);
      writeToneWav(toneFile, { frequencyHz: toneHz });
      pages.set(name, await ConfluxPage.launch(toneFile));
    }));
  });

  afterAll(async () => {
    for (const [name, p] of pages) if (p.consoleErrors.length) console.log(`${name} page errors:`, p.consoleErrors);
    await Promise.all([...pages.values()].map((p) => p.close()));
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('joins three peers (form, form, token link) and each receives the other two\'s audio and video', async () => {
    // Alice and Bob use the form (room pre-filled from an invite link); Carol opens a server-issued token link.
    await page('Alice').open(`${server.httpUrl}/?room=${room}`);
    await expect.poll(() => page('Alice').page.getByLabel('Room').inputValue(), { timeout: 5_000 }).toBe(room);
    await page('Alice').joinWithForm(room, 'Alice');
    await page('Alice').waitForStatus('joined');

    await page('Bob').open(`${server.httpUrl}/?room=${room}`);
    await page('Bob').joinWithForm(room, 'Bob');

    const issued = await rest('POST', '/tokens', { room, identity: 'carol', name: 'Carol' });
    expect(issued.status).toBe(201);
    const carolToken = (issued.json as { token: string }).token;
    await page('Carol').open(`${server.httpUrl}/?token=${encodeURIComponent(carolToken)}&name=Carol`);

    await Promise.all(PEERS.map(({ name }) => page(name).waitForStatus('joined')));
    await Promise.all(PEERS.map(({ name }) => page(name).waitForRemoteMedia(2)));

    const inRoom = await restParticipants();
    expect(inRoom.map((p) => p.displayName).sort()).toEqual(['Alice', 'Bob', 'Carol']);
    for (const participant of inRoom) {
      expect(participant.kind).toBe('webrtc');
      expect(participant.producers.map((p) => `${p.kind}:${p.source}`).sort()).toEqual(['audio:mic', 'video:camera']);
    }
    const toneOf = new Map(inRoom.map((p) => [p.id, PEERS.find((peer) => peer.name === p.displayName)!.toneHz]));

    // RTP keeps flowing: every consumer's packet count grows, and video frames get decoded. Chromium lists an
    // inbound-rtp stream only once its first packet arrived, so wait for all four first.
    for (const { name } of PEERS) {
      await expect.poll(async () => (await page(name).inboundRtp()).filter((s) => s.packetsReceived > 0).length,
        { timeout: 10_000, message: `${name} receives four RTP streams` }).toBe(4);
    }
    const before = await Promise.all(PEERS.map(({ name }) => page(name).inboundRtp()));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await Promise.all(PEERS.map(({ name }) => page(name).inboundRtp()));
    PEERS.forEach(({ name }, index) => {
      const earlier = new Map(before[index]!.map((sample) => [sample.consumerId, sample]));
      expect(after[index]!.map((s) => s.kind).sort(), `${name} inbound streams`).toEqual(['audio', 'audio', 'video', 'video']);
      for (const sample of after[index]!) {
        const label = `${name} ← ${sample.kind} of ${sample.participantId}`;
        expect(sample.packetsReceived, label).toBeGreaterThan(earlier.get(sample.consumerId)?.packetsReceived ?? Infinity);
        if (sample.kind === 'video') expect(sample.framesDecoded, label).toBeGreaterThan(0);
      }
    });

    // Each receiver hears exactly the two other tones, each from the participant who sends it.
    const heard = await Promise.all(PEERS.map(({ name }) => page(name).measureRemoteAudio(2_000)));
    console.log('received audio', JSON.stringify(heard.map((levels, i) => ({ receiver: PEERS[i]!.name, levels }))));
    PEERS.forEach(({ name, toneHz }, index) => {
      const levels = heard[index]!;
      expect(levels, `${name} audio tracks`).toHaveLength(2);
      for (const level of levels) {
        const expectedHz = toneOf.get(level.participantId);
        const label = `${name} hears ${level.participantId} (${expectedHz} Hz)`;
        expect(expectedHz, label).toBeDefined();
        expect(expectedHz, `${name} must not receive their own tone`).not.toBe(toneHz);
        expect(level.rms, label).toBeGreaterThan(0.01);
        expect(Math.abs(level.dominantHz - expectedHz!), `${label}: dominant ${level.dominantHz} Hz`).toBeLessThan(25);
      }
    });

    // The camera goes out as three simulcast layers; the largest starts once bandwidth estimation ramps up.
    const sendingLayers = async () => (await page('Alice').outboundRtp('camera')).filter((layer) => layer.bytesSent > 0);
    await expect.poll(async () => (await sendingLayers()).length, { timeout: 20_000, interval: 500 }).toBe(3);
    // Sizes, not exact widths: Chromium may scale every layer down when the CPU is busy.
    expect(new Set((await sendingLayers()).map((layer) => layer.frameWidth)).size).toBe(3);

    // The grid shows three tiles with playing video and the right names.
    const alice = page('Alice').page;
    await expect.poll(() => alice.locator('.tile').count(), { timeout: 5_000 }).toBe(3);
    await alice.waitForFunction(() => [...document.querySelectorAll<HTMLVideoElement>('.tile video')]
      .every((video) => video.videoWidth > 0 && !video.paused), undefined, { timeout: 10_000 });
    const labels = await alice.locator('.tile .name').allTextContents();
    expect(labels.sort()).toEqual(['Alice (you)', 'Bob', 'Carol']);
    expect(await alice.locator('#invite-link').textContent()).toBe(`${server.httpUrl}/?room=${room}`);
    // The server's active speaker is highlighted, and only that tile.
    await alice.waitForFunction(() => {
      const speakerId = (window as unknown as { conflux: AppHook }).conflux.client?.activeSpeakerId;
      const highlighted = [...document.querySelectorAll<HTMLElement>('.tile.speaking')];
      return speakerId && highlighted.length === 1 && highlighted[0]!.dataset.participantId === speakerId;
    }, undefined, { timeout: 10_000 });
    await alice.screenshot({ path: SCREENSHOT });
  });

  it('mutes and unmutes the microphone and camera from the buttons, and the others see and hear it', async () => {
    const aliceId = await participantIdOf('Alice');
    const alice = page('Alice').page;
    const bob = page('Bob');
    const aliceTileAtBob = bob.page.locator(`.tile[data-participant-id="${aliceId}"]`);
    const aliceProducerPaused = async (source: string) =>
      (await bob.snapshot())?.participants.find((p) => p.id === aliceId)?.producers.find((p) => p.source === source)?.paused;
    const aliceLevelAtBob = async () =>
      (await bob.measureRemoteAudio(1_000)).find((level) => level.participantId === aliceId)?.rms ?? -1;

    await alice.getByRole('button', { name: 'Mute mic' }).click();
    await expect.poll(() => aliceProducerPaused('mic'), { timeout: 5_000 }).toBe(true);
    await expect(aliceTileAtBob.locator('.mic-off').isVisible()).resolves.toBe(true);
    await expect.poll(aliceLevelAtBob, { timeout: 5_000, message: 'Alice is silent at Bob' }).toBeLessThan(0.005);

    await alice.getByRole('button', { name: 'Unmute mic' }).click();
    await expect.poll(() => aliceProducerPaused('mic'), { timeout: 5_000 }).toBe(false);
    await expect.poll(aliceLevelAtBob, { timeout: 5_000, message: 'Alice is heard again at Bob' }).toBeGreaterThan(0.01);
    expect(await aliceTileAtBob.locator('.mic-off').isVisible()).toBe(false);

    await alice.getByRole('button', { name: 'Stop camera' }).click();
    await expect.poll(() => aliceTileAtBob.getAttribute('class'), { timeout: 5_000 }).toContain('no-video');
    await alice.getByRole('button', { name: 'Start camera' }).click();
    await expect.poll(() => aliceTileAtBob.getAttribute('class'), { timeout: 5_000 }).not.toContain('no-video');
  });

  it('removes a peer that leaves from the others, closing their consumers of it', async () => {
    const carolId = await participantIdOf('Carol');
    // Keep the consumers of Carol's media to check they are closed, not just forgotten.
    const held = await Promise.all((['Alice', 'Bob'] as const).map((name) => page(name).holdConsumersOf(carolId)));
    expect(held).toEqual([2, 2]);

    await page('Carol').page.getByRole('button', { name: 'Leave' }).click();
    await page('Carol').waitForStatus('left', 10_000);

    for (const name of ['Alice', 'Bob'] as const) {
      await page(name).waitForSnapshot((s) => !s.participants.some((p) => p.id === carolId), `${name} to drop Carol`, 10_000);
      expect(await page(name).heldConsumersClosed(), `${name}'s consumers of Carol`).toEqual([true, true]);
      expect(await page(name).page.locator('.tile').count()).toBe(2);
    }
    const remaining = await restParticipants();
    expect(remaining.map((p) => p.displayName).sort()).toEqual(['Alice', 'Bob']);
  });

  it('kicks a peer over REST: its page shows it was removed and the other is notified', async () => {
    const bobId = await participantIdOf('Bob');
    const kicked = await rest('DELETE', `/rooms/${room}/participants/${bobId}`);
    expect(kicked.status).toBe(204);

    await page('Bob').waitForStatus('removed', 10_000);
    await expect.poll(() => page('Bob').page.locator('#message').textContent(), { timeout: 5_000 }).toBe('You were removed from the room by its host.');
    await page('Alice').waitForSnapshot((s) => s.participants.length === 0, 'Alice to drop Bob', 10_000);
    expect(await page('Alice').page.locator('.tile').count()).toBe(1);
    expect((await restParticipants()).map((p) => p.displayName)).toEqual(['Alice']);
  });

  it('refuses a bad token: the page shows the error and nobody is added', async () => {
    const carol = page('Carol');
    await carol.open(`${server.httpUrl}/?token=not-a-valid-token`);
    await carol.waitForStatus('error', 10_000);
    expect(await carol.error()).toBe('This invite link is not valid. Check that it was copied whole, or ask for a new one.');
    await expect.poll(() => carol.page.locator('#message').isVisible(), { timeout: 5_000 }).toBe(true);
    expect(await carol.page.locator('#join-view').isVisible()).toBe(true);
    expect((await restParticipants()).map((p) => p.displayName)).toEqual(['Alice']);
  });
});
