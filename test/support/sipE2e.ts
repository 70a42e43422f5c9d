import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppHook } from '../../client/app/AppHook.js';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { stopAllPeers } from '../integration/sip-connector/peers.js';
import type { Browser } from 'playwright-core';
import { BaresipPhone, type BaresipPhoneOptions } from './baresip.js';
import type { ConfluxPage } from './ConfluxPage.js';
import { eventually } from './sipCalls.js';
import type { SipWebPhone } from './SipWebPhone.js';
import { startTestServer } from './testServer.js';
import { writeToneWav } from './toneWav.js';

/**
 * What the e2e tests with baresip phones and a headless Chromium share: a scratch directory with the
 * browser's tone, the server with SIP, the browser joined to the room, and the teardown of it all.
 */
export interface SipE2eParts {
  workDir?: string;
  server?: ConfluxServer;
  browser?: ConfluxPage;
  phones: Array<BaresipPhone | undefined>;
  /** Browser SIP clients' pages (and the browser they share, when the test launched one itself). */
  webPhones?: Array<SipWebPhone | undefined>;
  chromium?: Browser | undefined;
}

/**
 * A scratch directory holding a 60 s tone of `frequencyHz` for Chromium's fake microphone, which jumps in
 * phase where it loops the file: the file outlasts the tests.
 */
export function browserToneFile(prefix: string, frequencyHz: number): { workDir: string; toneFile: string } {
  const workDir = mkdtempSync(path.join(tmpdir(), `conflux-${prefix}-`));
  const toneFile = path.join(workDir, `browser-${frequencyHz}.wav`);
  writeToneWav(toneFile, { frequencyHz, seconds: 60 });
  return { workDir, toneFile };
}

/** The whole server with SIP over UDP and TCP on ephemeral loopback ports. */
export function startSipE2eServer(): Promise<ConfluxServer> {
  return startTestServer({ sip: { enabled: true, host: '127.0.0.1', udpPort: 0, tcpPort: 0 } });
}

/**
 * Opens the app, joins `room` through the form, and makes the microphone send its file as it is: Chromium's
 * audio processing takes a steady tone for noise and pulls it down by 10-25 dB within seconds, by a different
 * amount each run, and the path under test is the server's.
 */
export async function joinSendingToneUnprocessed(browser: ConfluxPage, server: ConfluxServer, room: string): Promise<void> {
  await browser.open(`${server.httpUrl}/?room=${room}`);
  await browser.joinWithForm(room, 'Browser');
  await browser.waitForStatus('joined');
  await sendToneUnprocessed(browser);
}

/** Makes the joined page's microphone send its file as it is (see `joinSendingToneUnprocessed`). */
export async function sendToneUnprocessed(browser: ConfluxPage): Promise<void> {
  await browser.page.evaluate(async () => {
    const [track] = (await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    })).getAudioTracks();
    const mic = (window as unknown as { conflux: AppHook }).conflux.client?.producer('mic');
    if (!track || !mic) throw new Error('no microphone to replace');
    await mic.replaceTrack({ track });
  });
}

/**
 * baresip as a user of the server's registrar (`options.user`, registering over UDP with `password` and
 * answering every call), once the registrar has its binding.
 */
export async function startRegisteredBaresip(server: ConfluxServer, options: Omit<BaresipPhoneOptions, 'registrar'>, password: string): Promise<BaresipPhone> {
  const phone = await BaresipPhone.start({ ...options, registrar: { port: server.sip!.ports.udp!, password, intervalSeconds: 60, autoAnswer: true } });
  await eventually(() => server.sip!.registrar.lookup(options.user), (bindings) => bindings.length > 0, 10_000, `baresip ${options.user} to register`);
  return phone;
}

/** For afterAll: prints the pages' errors, stops the phones and the browsers, every other peer, the server, and removes the directory. */
export async function stopSipE2e({ workDir, server, browser, phones, webPhones = [], chromium }: SipE2eParts): Promise<void> {
  if (browser?.consoleErrors.length) console.log('browser page errors:', browser.consoleErrors);
  for (const web of webPhones) if (web?.consoleErrors.length) console.log('SIP client page errors:', web.consoleErrors);
  await Promise.all([...webPhones.map((web) => web?.close())]);
  await chromium?.close();
  await Promise.all([...phones.map((phone) => phone?.stop()), browser?.close()]);
  await stopAllPeers();
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

/** Routers alive in the server's mediasoup workers (a worker dump lists them): none once every call's private room is gone. */
export async function routerCount(server: ConfluxServer): Promise<number> {
  const dumps = await Promise.all(server.pool.workers.map((worker) => worker.dump()));
  return dumps.reduce((sum, dump) => sum + dump.routerIds.length, 0);
}
