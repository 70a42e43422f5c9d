import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { ParticipantInfo } from '../../server/signalling/SignallingMessages.js';
import type { DialOutResult, SipCallInfo } from '../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone, rms } from '../support/baresip.js';
import { ConfluxPage, type RemoteAudioLevel } from '../support/ConfluxPage.js';
import { browserToneFile, joinSendingToneUnprocessed, startSipE2eServer, stopSipE2e } from '../support/sipE2e.js';
import { api } from '../support/testServer.js';
import { db, goertzel } from '../unit/sip-connector/media/support/goertzel.js';

const ROOM = 'dial-out-room';
const BROWSER_HZ = 440;
// An auto-answering phone on ports of its own (295xx), away from the other e2e and integration peers.
const ERIN = { user: '2001', sipPort: 29510, ctrlPort: 29515, rtpPortMin: 29520, toneHz: 1000, lifetimeMs: 120_000 };
// The same margins as the dial-in e2e test: about 10 dB under what loopback gives, far above silence.
const BROWSER_MIN_RMS = 0.05;
const PHONE_MIN_TONE = 0.1;
const HZ_TOLERANCE = 25;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dial-out over REST from a room with a headless Chromium to an auto-answering baresip', () => {
  let server: ConfluxServer;
  let workDir: string;
  let browser: ConfluxPage;
  let erin: BaresipPhone;

  async function rest<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await api(server, method, `/api/v1${route}`, body);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  const participants = async () => (await rest<{ participants: ParticipantInfo[] }>('GET', `/rooms/${ROOM}/participants`)).body.participants;

  beforeAll(async () => {
    const tone = browserToneFile('dial-out', BROWSER_HZ);
    workDir = tone.workDir;
    server = await startSipE2eServer();
    const trunk = await rest('POST', '/sip/outbound-trunks', {
      id: 'erin', name: 'baresip', host: '127.0.0.1', port: ERIN.sipPort, fromNumber: '+15550002', codecs: ['PCMU'],
    });
    if (trunk.status !== 201) throw new Error(`outbound trunk: ${trunk.status} ${JSON.stringify(trunk.body)}`);
    browser = await ConfluxPage.launch(tone.toneFile);
    erin = await BaresipPhone.start(ERIN);
    await joinSendingToneUnprocessed(browser, server, ROOM);
    // The browser's producers exist before the call (hooks cannot use expect.poll).
    const sources = async () => JSON.stringify((await participants()).flatMap((p) => p.producers.map((pr) => pr.source)).sort());
    for (const start = Date.now(); await sources() !== '["camera","mic"]'; await sleep(100)) {
      if (Date.now() - start > 10_000) throw new Error(`browser producers: ${await sources()}`);
    }
  });

  afterAll(() => stopSipE2e({ workDir, server, browser, phones: [erin] }));

  it('POST /api/v1/sip/calls: the browser hears the phone\'s 1 kHz tone, the phone records the browser\'s 440 Hz, DELETE hangs up', async () => {
    const dialled = await rest<DialOutResult>('POST', '/sip/calls', { room: ROOM, trunkId: 'erin', to: ERIN.user, ringTimeoutSeconds: 10 });
    expect(dialled.status, JSON.stringify(dialled.body) + erin.output()).toBe(201);
    const { call } = dialled.body;
    expect(call).toMatchObject({ direction: 'outbound', state: 'active', codec: 'PCMU', room: ROOM });
    await erin.waitForEvent('CALL_ESTABLISHED', 5_000);

    await browser.waitForSnapshot((s) => s.participants.some((p) => p.id === call.participantId && p.kind === 'sip'
      && p.consumers.some((c) => c.kind === 'audio' && c.trackState === 'live' && !c.paused)), 'the browser to consume the phone', 10_000);
    let heard: RemoteAudioLevel | undefined;
    const deadline = Date.now() + 10_000;
    do {
      heard = (await browser.measureRemoteAudio(1_500)).find((level) => level.participantId === call.participantId);
    } while ((heard?.rms ?? 0) <= BROWSER_MIN_RMS && Date.now() < deadline);
    console.log(`browser hears the dialled phone: rms ${heard?.rms.toFixed(4)}, dominant ${heard?.dominantHz.toFixed(1)} Hz`);
    expect(heard?.rms, 'phone tone level at the browser').toBeGreaterThan(BROWSER_MIN_RMS);
    expect(Math.abs(heard!.dominantHz - ERIN.toneHz), `dominant ${heard?.dominantHz} Hz`).toBeLessThan(HZ_TOLERANCE);

    await sleep(1_500);
    expect((await rest('DELETE', `/sip/calls/${call.id}`)).status).toBe(204);
    await erin.waitForEvent('CALL_CLOSED', 5_000);
    const ended = (await rest<{ call: SipCallInfo }>('GET', `/sip/calls/${call.id}`)).body.call;
    expect(ended).toMatchObject({ state: 'ended', endReason: 'hangup' });
    await browser.waitForSnapshot((s) => !s.participants.some((p) => p.id === call.participantId), 'the browser to drop the phone', 10_000);

    // What the phone heard: the browser's tone, not its own (mix-minus), in the last 2 s before the hang-up.
    const files = erin.receivedRecordings();
    expect(files.length, 'the phone recorded the call').toBeGreaterThan(0);
    const recording = await erin.lastRecording();
    const end = recording.samples.length - Math.round(0.3 * recording.sampleRate);
    const window = recording.samples.subarray(end - 2 * recording.sampleRate, end);
    const browserTone = goertzel(window, recording.sampleRate, BROWSER_HZ);
    const ownTone = goertzel(window, recording.sampleRate, ERIN.toneHz);
    console.log(`phone's recording: rms ${rms(window).toFixed(4)}, 440 Hz ${browserTone.toFixed(4)}, own ${ownTone.toFixed(5)}`);
    expect(browserTone, 'the browser tone at the phone').toBeGreaterThan(PHONE_MIN_TONE);
    expect(db(browserTone, ownTone), 'the phone does not hear itself').toBeGreaterThan(30);

    // Nothing of the call stays: no call in progress, no phone participant, only the browser's transports.
    expect((await rest<{ calls: SipCallInfo[] }>('GET', '/sip/calls')).body.calls.filter((c) => c.state !== 'ended')).toEqual([]);
    expect((await participants()).filter((p) => p.kind === 'sip')).toEqual([]);
    const room = server.rooms.find(ROOM)!;
    const owned = room.participants.flatMap((p) => [...p.transports.keys()]).sort();
    await expect.poll(async () => ((await room.router.dump()).transportIds as string[]).sort(), { timeout: 5_000 }).toEqual(owned);
  });
});
