import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { SignallingTestClient } from '../support/SignallingTestClient.js';
import { browserToneFile } from '../support/sipE2e.js';
import { api, startTestServer } from '../support/testServer.js';

/** What the page shows under its header. */
const shown = (page: ConfluxPage) => page.page.locator('#message').textContent();

describe('the web page tells people in words why they are not in the room', () => {
  let open: ConfluxServer;
  let closed: ConfluxServer;
  let page: ConfluxPage;
  let workDir: string;
  const occupants: SignallingTestClient[] = [];

  const tokenLink = async (server: ConfluxServer, room: string, identity: string, ttlSeconds?: number) =>
    `${server.httpUrl}/?token=${encodeURIComponent((await server.tokens.issue({ room, identity, name: identity }, ttlSeconds)).token)}`;

  /** Opens `url` and waits for the join attempt it makes (or the form) to settle on `status`. */
  async function attempt(url: string, status: 'error' | 'joined'): Promise<string | null> {
    await page.open(url);
    await page.waitForStatus(status, 15_000);
    return shown(page);
  }

  beforeAll(async () => {
    const tone = browserToneFile('messages', 440);
    workDir = tone.workDir;
    // Guests welcome, rooms made on first join; the other: invite links only, rooms made over REST only.
    open = await startTestServer({ auth: { guestJoin: true } });
    closed = await startTestServer({ auth: { guestJoin: false }, rooms: { autoCreate: false } });
    page = await ConfluxPage.launch(tone.toneFile);
  });

  afterAll(async () => {
    for (const occupant of occupants) occupant.close();
    await page?.close();
    await Promise.all([open?.close(), closed?.close()]);
    rmSync(workDir, { recursive: true, force: true });
  });

  it('an expired invite link, and one that is not a link of this server', async () => {
    expect(await attempt(await tokenLink(open, 'standup', 'ann', -60), 'error')).toBe('This invite link has expired. Ask for a new one.');
    expect(await attempt(`${open.httpUrl}/?token=not-a-token`, 'error'))
      .toBe('This invite link is not valid. Check that it was copied whole, or ask for a new one.');
  });

  it('guests turned away, and a link to a room that does not exist', async () => {
    await page.open(closed.httpUrl);
    await page.joinWithForm('standup', 'Ann');
    await page.waitForStatus('error', 15_000);
    expect(await shown(page)).toBe('This server does not let guests join. Ask the organiser for an invite link.');
    expect(await attempt(await tokenLink(closed, 'nowhere', 'ann'), 'error')).toBe('This room does not exist or has been closed.');
  });

  it('a full room', async () => {
    expect((await api(open, 'POST', '/api/v1/rooms', { name: 'tiny', maxParticipants: 1 })).status).toBe(201);
    const occupant = await SignallingTestClient.connect(open.httpUrl);
    occupants.push(occupant);
    await occupant.call('join', { token: (await open.tokens.issue({ room: 'tiny', identity: 'first', name: 'First' })).token });
    await page.open(open.httpUrl);
    await page.joinWithForm('tiny', 'Ann');
    await page.waitForStatus('error', 15_000);
    expect(await shown(page)).toBe('The room is full. Try again later.');
  });

  it('removed by the host: said so, the room named in the title while in it, and the spent token gone from the address', async () => {
    await attempt(await tokenLink(open, 'kick-me', 'ann'), 'joined');
    expect(await page.page.title()).toBe('kick-me · Conflux');
    // Joined by a link without a name: its own tile shows the link's identity, not a bare "You".
    expect(await page.page.locator('.tile.local').textContent()).toContain('ann (you)');
    const [me] = open.rooms.get('kick-me').participants;
    expect((await api(open, 'DELETE', `/api/v1/rooms/kick-me/participants/${me!.id}`)).status).toBe(204);
    await page.waitForStatus('removed', 10_000);
    expect(await shown(page)).toBe('You were removed from the room by its host.');
    expect(await page.page.title()).toBe('Conflux');
    expect(new URL(page.page.url()).searchParams.has('token')).toBe(false);
  });

  it('a room name typed as people write it is the room id it maps to; one with no letter or digit is refused before asking', async () => {
    await page.open(open.httpUrl);
    await page.joinWithForm('Équipe du lundi', 'Ann');
    await page.waitForStatus('joined', 15_000);
    expect(await page.page.title()).toBe('Equipe-du-lundi · Conflux');
    expect(open.rooms.find('Equipe-du-lundi')?.participants).toHaveLength(1);
    await page.page.getByRole('button', { name: 'Leave' }).click();
    await page.waitForStatus('left', 10_000);
    await page.joinWithForm('!!!', 'Ann');
    await page.page.waitForFunction(() => document.getElementById('message')!.textContent !== 'You left the room.', undefined, { timeout: 5000 });
    expect(await shown(page)).toBe('A room name needs at least one letter or digit.');
  });

  it('a server that does not answer', async () => {
    const gone = await startTestServer({ auth: { guestJoin: true } });
    await page.open(gone.httpUrl);
    await gone.close();
    await page.joinWithForm('standup', 'Ann');
    await page.waitForStatus('error', 15_000);
    expect(await shown(page)).toBe('The server cannot be reached. Check your connection, then try again.');
  });

  it('a host\'s mute over REST shows on the muted page and sticks; her one click unmutes her for everyone', async () => {
    await attempt(await tokenLink(open, 'muted', 'ann'), 'joined');
    const mic = page.page.locator('#mic-button');
    await page.page.waitForFunction(() => !(document.getElementById('mic-button') as HTMLButtonElement).disabled);
    expect(await mic.textContent()).toBe('Mute mic');
    const [me] = open.rooms.get('muted').participants;
    const paused = () => [...me!.producers.values()].find((producer) => producer.kind === 'audio')?.paused;
    expect((await api(open, 'POST', `/api/v1/rooms/muted/participants/${me!.id}/mute`, { kind: 'audio', muted: true })).status).toBe(200);
    await page.page.waitForFunction(() => document.getElementById('mic-button')!.textContent === 'Unmute mic', undefined, { timeout: 5000 });
    expect(await mic.getAttribute('aria-pressed')).toBe('true');
    expect(await page.page.locator('.tile.local .mic-off').isHidden()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(paused()).toBe(true);
    await mic.click();
    await page.page.waitForFunction(() => document.getElementById('mic-button')!.textContent === 'Mute mic', undefined, { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(paused()).toBe(false);
  });
});
