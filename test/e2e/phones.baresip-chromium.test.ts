import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { ParticipantInfo } from '../../server/signalling/SignallingMessages.js';
import type { SipCallInfo } from '../../sip-connector/calls/SipCallTypes.js';
import { BaresipPhone, db, readWav, toneLevels, type DecodedWav } from '../support/baresip.js';
import { ConfluxPage, type RemoteAudioLevel } from '../support/ConfluxPage.js';
import { ownUdpSockets } from '../support/processSockets.js';
import { browserToneFile, joinSendingToneUnprocessed, startSipE2eServer, stopSipE2e } from '../support/sipE2e.js';
import { api } from '../support/testServer.js';

const ROOM = 'phones';
const BROWSER_HZ = 440;
// Ports of the phones (286xx): away from the SIP peers of the integration tests, which may run at the same time.
const ALICE = { user: 'alice', sipPort: 28610, ctrlPort: 28615, rtpPortMin: 28620, toneHz: 1000, lifetimeMs: 170_000 };
const BOB = { user: 'bob', sipPort: 28650, ctrlPort: 28655, rtpPortMin: 28660, toneHz: 1500, lifetimeMs: 170_000 };
// A browser tolerates a few FFT bins (48 kHz / 8192 ≈ 5.9 Hz each) of error in the dominant frequency.
const HZ_TOLERANCE = 25;
// Thresholds, about 10 dB under the levels measured on loopback (printed by each test) and far above silence:
// phones send amplitude 0.3 (RMS 0.21), the browser 0.5; mix-minus left its own tone 45-75 dB under the others.
const BROWSER_MIN_RMS = 0.05;
const PHONE_MIN_TONE = 0.1;
const MIX_MINUS_MARGIN_DB = 30;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads until the value is as expected or time runs out, and returns the last read (hooks cannot use expect.poll). */
async function settle<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (JSON.stringify(value) === JSON.stringify(expected) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

describe('baresip softphones and a headless Chromium in one room through the SIP connector', () => {
  let server: ConfluxServer;
  let workDir: string;
  let browser: ConfluxPage;
  let alice: BaresipPhone;
  let bob: BaresipPhone;
  let sipUri: string;
  /** UDP sockets the server process holds with no call in progress: phone sockets and mixer legs come on top. */
  let idleSockets: string[];

  async function rest<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await api(server, method, `/api/v1${route}`, body);
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  const participants = async () => (await rest<{ participants: ParticipantInfo[] }>('GET', `/rooms/${ROOM}/participants`)).participants;
  const phoneParticipants = async () => (await participants()).filter((p) => p.kind === 'sip');
  const callsInProgress = async () => (await rest<{ calls: SipCallInfo[] }>('GET', '/sip/calls')).calls.filter((c) => c.state !== 'ended');

  /** Waits until the phone's call is active in REST and returns its participant. */
  async function phoneJoined(phone: BaresipPhone): Promise<ParticipantInfo> {
    await phone.waitForEvent('CALL_ESTABLISHED');
    let found: ParticipantInfo | undefined;
    await expect.poll(async () => {
      found = (await phoneParticipants()).find((p) => p.attributes['sip.from']?.includes(`${phone.options.user}@`));
      return found?.producers.map((p) => `${p.kind}:${p.source}`);
    }, { timeout: 5_000, message: `${phone.options.user} is a sip participant with one phone producer` }).toEqual(['audio:phone']);
    return found!;
  }

  /** The browser lists the participant as a phone and its audio track is live. */
  async function browserReceives(participantId: string): Promise<void> {
    await browser.waitForSnapshot((s) => s.participants.some((p) => p.id === participantId && p.kind === 'sip'
      && p.consumers.some((c) => c.kind === 'audio' && c.trackState === 'live' && !c.paused)),
    `the browser to consume phone ${participantId}`, 10_000);
  }

  /** Measures until every given participant is heard (or time runs out), then returns the last measurement. */
  async function browserHears(participantIds: string[]): Promise<RemoteAudioLevel[]> {
    let levels: RemoteAudioLevel[] = [];
    const deadline = Date.now() + 10_000;
    do {
      levels = await browser.measureRemoteAudio(1_500);
      const loud = participantIds.every((id) => (levels.find((l) => l.participantId === id)?.rms ?? 0) > BROWSER_MIN_RMS);
      if (loud) break;
    } while (Date.now() < deadline);
    return levels;
  }

  /** Dials in and returns the participant the phone became. */
  async function dialIn(phone: BaresipPhone): Promise<ParticipantInfo> {
    phone.dial(sipUri);
    const participant = await phoneJoined(phone);
    expect(participant.attributes['sip.direction']).toBe('inbound');
    expect(participant.attributes['sip.trunk']).toBe('loopback');
    // The call turns active once its media is wired, a moment after the participant appears.
    await expect.poll(async () => (await callsInProgress()).find((c) => c.participantId === participant.id)?.state,
      { timeout: 5_000, message: `${phone.options.user}'s call is active` }).toBe('active');
    return participant;
  }

  /** What the phone heard during its last call. */
  function lastRecording(phone: BaresipPhone): DecodedWav {
    const files = phone.receivedRecordings();
    expect(files.length, `${phone.options.user} recorded a call`).toBeGreaterThan(0);
    return readWav(files.at(-1)!);
  }

  beforeAll(async () => {
    const tone = browserToneFile('phones', BROWSER_HZ);
    workDir = tone.workDir;
    server = await startSipE2eServer();
    sipUri = `sip:${ROOM}@127.0.0.1:${server.sip!.ports.udp}`;
    await rest('POST', '/sip/inbound-trunks', { id: 'loopback', name: 'Loopback phones', allowedAddresses: ['127.0.0.1'] });
    await rest('POST', '/sip/dispatch-rules', { id: 'to-phones-room', name: 'Everything to the phones room', type: 'direct', room: ROOM });
    // One at a time, so that whatever started is assigned and stopped by afterAll even if a later start fails.
    browser = await ConfluxPage.launch(tone.toneFile);
    alice = await BaresipPhone.start(ALICE);
    bob = await BaresipPhone.start(BOB);
    await joinSendingToneUnprocessed(browser, server, ROOM);
    // The browser's microphone producer exists before any phone calls, so the bridge finds it on creation.
    expect(await settle(async () => (await participants()).flatMap((p) => p.producers.map((pr) => pr.source)).sort(), ['camera', 'mic'], 10_000))
      .toEqual(['camera', 'mic']);
    idleSockets = ownUdpSockets();
  });

  afterAll(() => stopSipE2e({ workDir, server, browser, phones: [alice, bob] }));

  // Every way a call ends must take its participant, mediasoup transports and mixer sockets with it.
  afterEach(async () => {
    // A test that failed half-way leaves its phones in a call: end those first so the next test starts clean.
    await Promise.all([alice?.ensureHungUp(), bob?.ensureHungUp()]);
    expect(await settle(callsInProgress, []), 'calls in progress').toEqual([]);
    expect(await settle(async () => (await phoneParticipants()).map((p) => p.id), []), 'sip participants').toEqual([]);
    const room = server.rooms.find(ROOM);
    expect(room, 'the browser keeps the room open').toBeDefined();
    // Only the browser's own transports may remain: a phone leg's PlainTransport or a mixer feed would show up here.
    const owned = room!.participants.flatMap((p) => [...p.transports.keys()]).sort();
    const routerTransports = async () => ((await room!.router.dump()).transportIds as string[]).sort();
    expect(await settle(routerTransports, owned), 'router transports').toEqual(owned);
    expect(room!.participants.flatMap((p) => [...p.transports.values()]).every((t) => t.type === 'webrtc')).toBe(true);
    expect(await settle(ownUdpSockets, idleSockets), 'UDP sockets of the server process (phone legs, mixer)').toEqual(idleSockets);
  });

  it('a baresip phone dials in through the trunk: Chromium hears its 1 kHz tone, it hears the 440 Hz browser, and its hang-up leaves the room', async () => {
    const phone = await dialIn(alice);
    const calls = await callsInProgress();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ direction: 'inbound', room: ROOM, state: 'active', codec: 'PCMU', participantId: phone.id, trunkId: 'loopback' });

    await browserReceives(phone.id);
    await expect.poll(() => browser.page.locator(`.tile[data-participant-id="${phone.id}"]`).count(), { timeout: 5_000 }).toBe(1);
    // The page's People list shows the phone with the number it called from.
    await browser.page.getByRole('button', { name: /^People/ }).click();
    const number = /^sips?:([^@;]+)@/.exec(phone.attributes['sip.from']!)![1]!;
    await expect.poll(() => browser.page.locator(`#people-list li[data-participant-id="${phone.id}"] .person-number`).textContent(),
      { timeout: 5_000 }).toBe(number);
    await browser.page.getByRole('button', { name: /^People/ }).click();
    const heard = (await browserHears([phone.id])).find((l) => l.participantId === phone.id);
    console.log(`browser hears alice: rms ${heard?.rms.toFixed(4)}, dominant ${heard?.dominantHz.toFixed(1)} Hz`);
    expect(heard?.rms, 'phone tone level at the browser').toBeGreaterThan(BROWSER_MIN_RMS);
    expect(Math.abs(heard!.dominantHz - ALICE.toneHz), `dominant ${heard?.dominantHz} Hz`).toBeLessThan(HZ_TOLERANCE);

    // /metrics sees the media both ways: what the phone and the browser send us, and what we send the browser.
    const scraped = await (await api(server, 'GET', '/metrics')).text();
    const sample = (name: string, labels: Record<string, string>) => {
      const line = scraped.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      return line ? Number(line.split(' ').at(-1)) : NaN;
    };
    const browserId = (await participants()).find((p) => p.kind === 'webrtc')!.id;
    expect(sample('conflux_media_bitrate_bps', { room: ROOM, participant: phone.id, kind: 'audio', direction: 'in' }), scraped).toBeGreaterThan(10_000);
    expect(sample('conflux_media_bitrate_bps', { room: ROOM, participant: browserId, kind: 'audio', direction: 'in' })).toBeGreaterThan(1000);
    expect(sample('conflux_media_bitrate_bps', { room: ROOM, participant: browserId, kind: 'audio', direction: 'out' })).toBeGreaterThan(10_000);
    expect(sample('conflux_media_score', { room: ROOM, participant: browserId, kind: 'video', direction: 'in' })).toBeGreaterThan(0);
    expect(scraped).toMatch(/^conflux_media_packets_lost_total\{room="phones",participant="[^"]+",kind="audio",direction="in"\} \d+$/m);
    expect(sample('conflux_http_request_duration_seconds_count', { route: '/api/v1/rooms/:room/participants', method: 'GET', status: '200' })).toBeGreaterThan(0);

    // Keep the call up long enough for a steady recording of the browser on the phone.
    await sleep(1_500);
    alice.hangup();
    await alice.waitForEvent('CALL_CLOSED');
    await browser.waitForSnapshot((s) => !s.participants.some((p) => p.id === phone.id), 'the browser to drop the phone', 10_000);
    expect(await browser.page.locator(`.tile[data-participant-id="${phone.id}"]`).count()).toBe(0);
    const ended = (await rest<{ calls: SipCallInfo[] }>('GET', '/sip/calls')).calls.find((c) => c.id === calls[0]!.id);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'remote-hangup' });
    expect(await callsInProgress()).toEqual([]);
    expect(await phoneParticipants()).toEqual([]);

    const recording = lastRecording(alice);
    const levels = toneLevels(recording, [BROWSER_HZ, ALICE.toneHz], 2, 0.3);
    console.log(`alice's recording (${(recording.samples.length / recording.sampleRate).toFixed(1)} s at ${recording.sampleRate} Hz): `
      + `rms ${levels.rms.toFixed(4)}, 440 Hz ${levels.tones[BROWSER_HZ]!.toFixed(4)}, own 1000 Hz ${levels.tones[ALICE.toneHz]!.toFixed(5)}`);
    expect(recording.sampleRate).toBe(8000);
    expect(levels.tones[BROWSER_HZ], 'the browser tone at the phone').toBeGreaterThan(PHONE_MIN_TONE);
    expect(levels.rms).toBeGreaterThan(PHONE_MIN_TONE / 2);
    expect(db(levels.tones[BROWSER_HZ]!, levels.tones[ALICE.toneHz]!), 'the phone does not hear itself').toBeGreaterThan(MIX_MINUS_MARGIN_DB);
  });

  it('two baresip phones and Chromium: each phone hears the other two and never itself (mix-minus), Chromium hears both phones', async () => {
    const [alicePhone, bobPhone] = [await dialIn(alice), await dialIn(bob)];
    expect(await callsInProgress()).toHaveLength(2);
    await browserReceives(alicePhone.id);
    await browserReceives(bobPhone.id);

    const heard = await browserHears([alicePhone.id, bobPhone.id]);
    for (const [phone, toneHz] of [[alicePhone, ALICE.toneHz], [bobPhone, BOB.toneHz]] as const) {
      const level = heard.find((l) => l.participantId === phone.id);
      console.log(`browser hears ${phone.displayName}: rms ${level?.rms.toFixed(4)}, dominant ${level?.dominantHz.toFixed(1)} Hz`);
      expect(level?.rms, `${phone.displayName} at the browser`).toBeGreaterThan(BROWSER_MIN_RMS);
      expect(Math.abs(level!.dominantHz - toneHz), `${phone.displayName}: dominant ${level?.dominantHz} Hz`).toBeLessThan(HZ_TOLERANCE);
    }

    // Both phones stay in the call together well beyond the analysed window (2.5 s + 0.5 s) before hanging up together.
    await sleep(2_500);
    alice.hangup();
    bob.hangup();
    await Promise.all([alice.waitForEvent('CALL_CLOSED'), bob.waitForEvent('CALL_CLOSED')]);

    const all = [BROWSER_HZ, ALICE.toneHz, BOB.toneHz];
    for (const [phone, own, other] of [[alice, ALICE.toneHz, BOB.toneHz], [bob, BOB.toneHz, ALICE.toneHz]] as const) {
      const levels = toneLevels(lastRecording(phone), all, 2.5, 0.5);
      const tone = (hz: number) => levels.tones[hz]!;
      const margin = db(Math.min(tone(BROWSER_HZ), tone(other)), tone(own));
      console.log(`${phone.options.user}'s recording: rms ${levels.rms.toFixed(4)}, 440 Hz ${tone(BROWSER_HZ).toFixed(4)}, `
        + `other phone ${other} Hz ${tone(other).toFixed(4)}, own ${own} Hz ${tone(own).toFixed(6)} (mix-minus margin ${margin.toFixed(1)} dB)`);
      expect(tone(BROWSER_HZ), `${phone.options.user} hears the browser`).toBeGreaterThan(PHONE_MIN_TONE);
      expect(tone(other), `${phone.options.user} hears the other phone`).toBeGreaterThan(PHONE_MIN_TONE);
      expect(margin, `${phone.options.user} does not hear itself`).toBeGreaterThan(MIX_MINUS_MARGIN_DB);
    }
  });

  it('kicking one of two baresip phones over REST sends it a BYE; its leg goes, the other phone stays connected', async () => {
    const stays = await dialIn(alice);
    await browserReceives(stays.id);
    const room = server.rooms.find(ROOM)!;
    // With one phone in: the phone's socket, its relay to mediasoup and the browser's feed into the mixer.
    const oneCallSockets = ownUdpSockets();
    const routerTransports = async () => ((await room.router.dump()).transportIds as string[]).sort();
    const oneCallTransports = await routerTransports();

    const kickedPhone = await dialIn(bob);
    const call = (await callsInProgress()).find((c) => c.participantId === kickedPhone.id);
    await browserReceives(kickedPhone.id);
    expect(ownUdpSockets().length, 'the second phone adds sockets').toBeGreaterThan(oneCallSockets.length);

    const kicked = await api(server, 'DELETE', `/api/v1/rooms/${ROOM}/participants/${kickedPhone.id}`);
    expect(kicked.status).toBe(204);
    // baresip reports CALL_CLOSED here only because the server ended the dialog: nobody hung up on its side.
    const closed = await bob.waitForEvent('CALL_CLOSED', 5_000);
    console.log(`bob's call closed by the server: "${closed.param}"`);
    expect(alice.events.map((e) => e.type)).not.toContain('CALL_CLOSED');
    await browser.waitForSnapshot((s) => !s.participants.some((p) => p.id === kickedPhone.id), 'the browser to drop the kicked phone', 10_000);
    const ended = (await rest<{ calls: SipCallInfo[] }>('GET', '/sip/calls')).calls.find((c) => c.id === call!.id);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'kicked' });

    // The kicked leg is gone from the mixer and mediasoup while the room's bridge lives on for the other phone.
    expect(await settle(ownUdpSockets, oneCallSockets), 'server UDP sockets back to one call').toEqual(oneCallSockets);
    expect(await settle(routerTransports, oneCallTransports), 'router transports back to one call').toEqual(oneCallTransports);
    expect((await phoneParticipants()).map((p) => p.id)).toEqual([stays.id]);
    const stillHeard = (await browserHears([stays.id])).find((l) => l.participantId === stays.id);
    expect(stillHeard?.rms, 'the remaining phone is still heard').toBeGreaterThan(BROWSER_MIN_RMS);

    alice.hangup();
    await alice.waitForEvent('CALL_CLOSED');
  });
});
