import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { SignallingTestClient } from '../support/SignallingTestClient.js';
import { browserToneFile } from '../support/sipE2e.js';
import { startTestServer } from '../support/testServer.js';

const SIZES = [{ width: 1280, height: 720 }, { width: 1920, height: 1080 }, { width: 390, height: 844 }];
const COUNTS = [1, 3, 6];
/** Where the run leaves a picture of each state, for people to look at (nothing compares them). */
const SCREENSHOTS = join(tmpdir(), 'conflux-screenshots');

describe('the room page fits the window: every tile and name in view, nothing to scroll', () => {
  let server: ConfluxServer;
  let page: ConfluxPage;
  let workDir: string;
  const others: SignallingTestClient[] = [];

  beforeAll(async () => {
    const tone = browserToneFile('layout', 440);
    workDir = tone.workDir;
    server = await startTestServer({ auth: { guestJoin: true } });
    page = await ConfluxPage.launch(tone.toneFile);
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    for (const other of others) other.close();
    await page?.close();
    await server?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('at 1280×720, 1920×1080 and 390×844, with 1, 3 and 6 in the room', async () => {
    // A 64-character room name: the bar must not push the controls or the grid out of view.
    const room = `Weekly-planning-of-the-whole-team-${'a'.repeat(30)}`;
    expect(room).toHaveLength(64);
    await page.open(server.httpUrl);
    await page.joinWithForm(room, 'Ann');
    await page.waitForStatus('joined', 15_000);
    for (const count of COUNTS) {
      while (others.length < count - 1) {
        const other = await SignallingTestClient.connect(server.httpUrl);
        others.push(other);
        const name = `Guest ${others.length}`;
        await other.call('join', { token: (await server.tokens.issue({ room, identity: `guest-${others.length}`, name })).token });
      }
      await page.page.waitForFunction((n) => document.querySelectorAll('#grid .tile').length === n, count, { timeout: 10_000 });
      for (const size of SIZES) {
        await page.page.setViewportSize(size);
        // Two frames: the resize observer lays the grid out, then the browser paints it.
        await page.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
        const layout = await page.page.evaluate(() => {
          const box = (element: Element) => element.getBoundingClientRect();
          const inside = (rect: DOMRect) => rect.left >= -0.5 && rect.top >= -0.5 && rect.right <= innerWidth + 0.5 && rect.bottom <= innerHeight + 0.5;
          const tiles = [...document.querySelectorAll('#grid .tile')];
          const controls = [...document.querySelectorAll('.room-bar button, .chat-form button')];
          return {
            scrolls: document.documentElement.scrollHeight > innerHeight || document.documentElement.scrollWidth > innerWidth,
            tilesOut: tiles.filter((tile) => !inside(box(tile))).length,
            namesOut: tiles.filter((tile) => !inside(box(tile.querySelector('.label')!))).length,
            controlsOut: controls.filter((control) => !inside(box(control))).length,
            smallest: Math.min(...tiles.map((tile) => box(tile).width)),
            area: tiles.reduce((sum, tile) => sum + box(tile).width * box(tile).height, 0) / (innerWidth * innerHeight),
          };
        });
        const where = `${count} at ${size.width}×${size.height}`;
        await page.page.screenshot({ path: join(SCREENSHOTS, `room-${size.width}x${size.height}-${count}.png`) });
        console.log(where, layout);
        expect(layout, where).toMatchObject({ scrolls: false, tilesOut: 0, namesOut: 0, controlsOut: 0 });
        // The tiles use the room they have: not a strip at the top of a big window.
        expect(layout.smallest, where).toBeGreaterThan(size.width < 500 ? 100 : 250);
      }
    }
    console.log(`screenshots in ${SCREENSHOTS}`);
  });
});
