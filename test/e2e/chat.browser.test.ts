import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { browserToneFile } from '../support/sipE2e.js';
import { startTestServer } from '../support/testServer.js';

/** The chat log of a page, one `name: text` line per message, as a person reads it. */
const chatLines = (page: ConfluxPage) => page.page.locator('#chat-log li').evaluateAll((items) =>
  items.map((item) => `${item.querySelector('.chat-from')!.textContent}: ${item.querySelector('.chat-text')!.textContent}`));

describe('chat on the web page: typed on one page, read on the others, there for a late joiner', () => {
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
});
