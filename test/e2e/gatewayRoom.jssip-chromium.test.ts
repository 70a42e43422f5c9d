import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import type { RemoteAudioLevel } from '../support/ConfluxPage.js';
import { ConfluxPage } from '../support/ConfluxPage.js';
import { configure, eventually, participants } from '../support/sipCalls.js';
import { browserToneFile, joinSendingToneUnprocessed, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';

const DOMAIN = '127.0.0.1';
const ROOM = 'standup';
/** The web client's microphone, and the browser SIP client's. */
const WEB_HZ = 600;
const SIP_HZ = 1000;
const HZ_TOLERANCE = 25;

/**
 * A browser SIP client (JsSIP) dials a room's number: it joins as a participant with WebRTC media, the room's
 * web client hears it as a track of its own, and it hears the room's mix-minus (the web client, not itself).
 */
describe('a browser SIP client calls into a room where a web client is', () => {
  let server: ConfluxServer;
  let web: SipWebPhone;
  let page: ConfluxPage;
  let workDir: string;

  beforeAll(async () => {
    const webTone = browserToneFile('room-web', WEB_HZ);
    workDir = webTone.workDir;
    const sipTone = browserToneFile('room-sip', SIP_HZ);
    server = await startTestServer({
      sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: [{ username: 'alice', password: 'alice-secret' }] },
    });
    // A rule that names no trunk: registered users' calls to "standup" reach the room too.
    await configure(server, 'dispatch-rules', { id: 'standup', name: 'standup', type: 'direct', room: ROOM, numbers: [ROOM] });
    page = await ConfluxPage.launch(webTone.toneFile);
    await joinSendingToneUnprocessed(page, server, ROOM);
    web = await SipWebPhone.launch(sipTone.toneFile, 'jssip');
    expect(await web.register(`ws://${DOMAIN}:${server.sip!.ports.ws}`, `sip:alice@${DOMAIN}`, 'alice-secret')).toBe('registered');
  });

  afterAll(() => stopSipE2e({ workDir, server, browser: page, phones: [], webPhones: [web] }));

  it('both hear each other, the SIP client not itself; hanging up leaves the room and stops its mixer', async () => {
    expect(await web.call(`sip:${ROOM}@${DOMAIN}`)).toBe('confirmed');
    const sipParticipant = await eventually(async () => (await participants(server, ROOM)).find((p) => p.kind === 'sip'),
      (found) => (found?.producers.length ?? 0) > 0, 5000, 'the SIP client in the room');
    expect(sipParticipant!.attributes).toMatchObject({ 'sip.media': 'webrtc', 'sip.from': `sip:alice@${DOMAIN}` });
    // The browser's first codec the mixer speaks (Chrome offers G.722 before G.711).
    expect(server.userCalls!.list()[0]).toMatchObject({ state: 'active', room: ROOM, codec: 'G722' });
    expect(server.sipCalls!.mixedRooms).toEqual([ROOM]);

    // The SIP client hears the room's mix: the web client's tone, not its own.
    const heard = await eventually(() => web.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the SIP client to hear the room');
    console.log('the SIP client heard', heard);
    expect(Math.abs(heard.dominantHz - WEB_HZ)).toBeLessThan(HZ_TOLERANCE);

    // The web client hears the SIP client as a track of its own (forwarded by the SFU).
    let levels: RemoteAudioLevel[] = [];
    const deadline = Date.now() + 10_000;
    do {
      levels = await page.measureRemoteAudio(1500);
    } while ((levels.find((l) => l.participantId === sipParticipant!.id)?.rms ?? 0) < 0.02 && Date.now() < deadline);
    const fromSip = levels.find((l) => l.participantId === sipParticipant!.id);
    console.log('the web client heard the SIP client', fromSip);
    expect(fromSip?.rms).toBeGreaterThan(0.02);
    expect(Math.abs(fromSip!.dominantHz - SIP_HZ)).toBeLessThan(HZ_TOLERANCE);

    await web.hangup();
    await eventually(async () => (await participants(server, ROOM)).filter((p) => p.kind === 'sip'), (list) => list.length === 0, 5000,
      'the SIP client to leave');
    await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
    // Its mix was the room's only mixer leg: the bridge and its thread are gone with it.
    await eventually(() => server.sipCalls!.mixedRooms, (rooms) => rooms.length === 0, 5000, 'the room\'s mixer to stop');
  });

  it('an offer without any ICE candidate (a trickle client\'s) still connects: the SIP client hears the room', async () => {
    await web.sendCandidates(false);
    try {
      expect(await web.call(`sip:${ROOM}@${DOMAIN}`)).toBe('confirmed');
      const sent = await web.sentSdp();
      expect(sent).toMatch(/^m=audio /m);
      expect(sent).not.toMatch(/^a=candidate/m);
      const heard = await eventually(() => web.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the SIP client to hear the room');
      console.log('the SIP client (no candidates offered) heard', heard);
      expect(Math.abs(heard.dominantHz - WEB_HZ)).toBeLessThan(HZ_TOLERANCE);
      await web.hangup();
      await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
    } finally {
      await web.sendCandidates(true);
    }
  });
});
