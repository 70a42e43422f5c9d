import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { browserToneFile } from '../support/sipE2e.js';
import { api, startTestServer } from '../support/testServer.js';

/** The chat log of a page, one `name: text` line per message, as a person reads it. */
const chatLines = (page: ConfluxPage) => page.page.locator('#chat-log li').evaluateAll((items) =>
  items.map((item) => `${item.querySelector('.chat-from')!.textContent}: ${item.querySelector('.chat-text')!.textContent}`));

describe('the meeting page: chat, keyboard shortcuts, connection quality, raised hands and the people list', () => {
  let server: ConfluxServer;
  let workDir: string;
  const pages: ConfluxPage[] = [];

  async function joined(name: string): Promise<ConfluxPage> {
    const page = await ConfluxPage.launch(browserToneFile(`chat-${name}`, 440).toneFile);
    pages.push(page);
    await page.open(server.httpUrl);
    await page.joinWithForm('chat-room', name);
    await page.waitForStatus('joined', 15_000);
    return page;
  }

  beforeAll(async () => {
    workDir = browserToneFile('chat', 440).workDir;
    server = await startTestServer({ auth: { guestJoin: true } });
  });

  afterAll(async () => {
    for (const page of pages) await page.close();
    await server?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('shows each message with its sender\'s name on every page, as text, and gives the history to a page that joins later', async () => {
    const ann = await joined('Ann');
    const bob = await joined('Bob');
    await ann.page.getByLabel('Message').fill('hello <img src=x onerror=alert(1)> Bob');
    await ann.page.getByRole('button', { name: 'Send' }).click();
    await bob.page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 1, undefined, { timeout: 5000 });
    expect(await chatLines(bob)).toEqual(['Ann: hello <img src=x onerror=alert(1)> Bob']);
    // Text, never markup: no element came out of the message.
    expect(await bob.page.locator('#chat-log img').count()).toBe(0);
    expect(await chatLines(ann)).toEqual(['Ann (you): hello <img src=x onerror=alert(1)> Bob']);
    expect(await ann.page.getByLabel('Message').inputValue()).toBe('');
    await bob.page.getByLabel('Message').fill('hi Ann');
    await bob.page.getByLabel('Message').press('Enter');
    await ann.page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 2, undefined, { timeout: 5000 });

    const cy = await joined('Cy');
    await cy.page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 2, undefined, { timeout: 5000 });
    expect(await chatLines(cy)).toEqual(['Ann: hello <img src=x onerror=alert(1)> Bob', 'Bob: hi Ann']);
  });

  it('Ctrl+D mutes and unmutes the microphone, Ctrl+E the camera, as the buttons do; each tile shows how well its sender reaches us', async () => {
    const [ann, bob] = pages;
    const annId = await ann!.page.evaluate(() => (window as unknown as { conflux: { client: { participantId: string } } }).conflux.client.participantId);
    const mic = ann!.page.locator('#mic-button');
    await ann!.page.waitForFunction(() => !(document.getElementById('mic-button') as HTMLButtonElement).disabled);
    await ann!.page.keyboard.press('Control+d');
    await ann!.page.waitForFunction(() => document.getElementById('mic-button')!.textContent === 'Unmute mic', undefined, { timeout: 5000 });
    // Bob sees Ann muted, from the server.
    await bob!.page.waitForFunction((id) => !document.querySelector(`.tile[data-participant-id="${id}"] .mic-off`)!.hasAttribute('hidden'),
      annId, { timeout: 5000 });
    await ann!.page.keyboard.press('Control+d');
    await ann!.page.waitForFunction(() => document.getElementById('mic-button')!.textContent === 'Mute mic', undefined, { timeout: 5000 });
    expect(await mic.getAttribute('aria-pressed')).toBe('false');
    await ann!.page.keyboard.press('Control+e');
    await ann!.page.waitForFunction(() => document.getElementById('camera-button')!.textContent === 'Start camera', undefined, { timeout: 5000 });
    await ann!.page.keyboard.press('Control+e');
    await ann!.page.waitForFunction(() => document.getElementById('camera-button')!.textContent === 'Stop camera', undefined, { timeout: 5000 });
    // Over loopback every stream scores high: Ann's tile on Bob's page says good.
    await bob!.page.waitForFunction((id) => document.querySelector(`.tile[data-participant-id="${id}"] .quality`)?.getAttribute('data-quality') === 'good',
      annId, { timeout: 15_000 });
    expect(await bob!.page.locator(`.tile[data-participant-id="${annId}"] .quality`).getAttribute('title')).toBe('Connection: good');
  });

  it('a raised hand shows on every page, for a late joiner too, until it is lowered', async () => {
    const [ann, bob, cy] = pages;
    const annId = await ann!.page.evaluate(() => (window as unknown as { conflux: { client: { participantId: string } } }).conflux.client.participantId);
    const handShown = (page: ConfluxPage) => page.page.evaluate((id) => {
      const hand = document.querySelector(`.tile[data-participant-id="${id}"] .hand`);
      return hand ? !hand.hasAttribute('hidden') : null;
    }, annId);
    await ann!.page.getByRole('button', { name: 'Raise hand' }).click();
    await ann!.page.waitForFunction(() => document.getElementById('hand-button')!.textContent === 'Lower hand', undefined, { timeout: 5000 });
    for (const page of [bob!, cy!]) {
      await page.page.waitForFunction((id) => !document.querySelector(`.tile[data-participant-id="${id}"] .hand`)!.hasAttribute('hidden'), annId,
        { timeout: 5000 });
    }
    expect(await handShown(ann!)).toBe(true);
    const late = await joined('Dee');
    await late.page.waitForFunction((id) => document.querySelector(`.tile[data-participant-id="${id}"] .hand`)?.hasAttribute('hidden') === false,
      annId, { timeout: 10_000 });
    await ann!.page.getByRole('button', { name: 'Lower hand' }).click();
    for (const page of [bob!, late]) {
      await page.page.waitForFunction((id) => document.querySelector(`.tile[data-participant-id="${id}"] .hand`)!.hasAttribute('hidden'), annId,
        { timeout: 5000 });
    }
    expect(await ann!.page.locator('#hand-button').textContent()).toBe('Raise hand');
  });

  it('People lists everyone, us first, with muted microphones and raised hands', async () => {
    const [ann, bob] = pages;
    await bob!.page.getByRole('button', { name: /^People/ }).click();
    const people = () => bob!.page.locator('#people-list li').evaluateAll((items) => items.map((item) => item.textContent));
    await bob!.page.waitForFunction((count) => document.querySelectorAll('#people-list li').length === count, pages.length, { timeout: 5000 });
    expect(await bob!.page.locator('#people-button').textContent()).toBe(`People (${pages.length})`);
    const listed = await people();
    expect(listed[0]).toBe('Bob (you)');
    expect(listed).toEqual(expect.arrayContaining(['Ann', 'Cy', 'Dee']));
    await ann!.page.keyboard.press('Control+d');
    await ann!.page.getByRole('button', { name: 'Raise hand' }).click();
    await bob!.page.waitForFunction(() => [...document.querySelectorAll('#people-list li')].some((item) => item.textContent === 'Ann🔇✋'),
      undefined, { timeout: 5000 });
    await ann!.page.keyboard.press('Control+d');
    await ann!.page.getByRole('button', { name: 'Lower hand' }).click();
    await bob!.page.waitForFunction(() => [...document.querySelectorAll('#people-list li')].some((item) => item.textContent === 'Ann'),
      undefined, { timeout: 5000 });
  });

  it('a host (a token link with roomAdmin) mutes and removes others from People; the others cannot', async () => {
    const [, bob, , dee] = pages;
    expect(await bob!.page.locator('#people-list .host-action').count()).toBe(0);
    const issued = await api(server, 'POST', '/api/v1/tokens', { room: 'chat-room', identity: 'hana', name: 'Hana', roomAdmin: true });
    expect(issued.status).toBe(201);
    const host = await ConfluxPage.launch(browserToneFile('chat-host', 440).toneFile);
    pages.push(host);
    await host.open(`${server.httpUrl}${(await issued.json() as { url: string }).url}`);
    await host.waitForStatus('joined', 15_000);
    await host.page.getByRole('button', { name: /^People/ }).click();
    await host.page.getByRole('button', { name: 'Mute Bob' }).click();
    await bob!.page.waitForFunction(() => document.getElementById('mic-button')!.textContent === 'Unmute mic', undefined, { timeout: 5000 });
    await host.page.getByRole('button', { name: 'Remove Dee from the room' }).click();
    await dee!.waitForStatus('removed', 5000);
    expect(await dee!.page.locator('#message').textContent()).toBe('You were removed from the room by its host.');
  });
});
