import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { launchBrowser } from '../support/browser.js';
import { startTestServer } from '../support/testServer.js';

describe('the API docs page (/docs) in Chromium', () => {
  let server: ConfluxServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders the OpenAPI document offline: its title and operations, from files the server serves itself', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(server.httpUrl)) outside.push(request.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const response = await page.goto(`${server.httpUrl}/docs`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 15_000 });
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    expect(paths.map((p) => p.replace(/\u200b/g, ''))).toEqual(expect.arrayContaining(['/rooms', '/rooms/{room}/participants', '/sip/calls']));
    expect(await page.locator('.info .title').textContent()).toMatch(/conflux/i);
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
    expect((await fetch(`${server.httpUrl}/docs/no-such-file.js`)).status).toBe(404);
  });
});
