import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfluxServer } from '../../server/ConfluxServer.js';
import { eventually, participants } from '../support/sipCalls.js';
import { browserToneFile, routerCount, stopSipE2e } from '../support/sipE2e.js';
import { SipWebPhone, type SipLibrary } from '../support/SipWebPhone.js';
import { startTestServer } from '../support/testServer.js';
import { writeToneWav } from '../support/toneWav.js';
import { join } from 'node:path';

const DOMAIN = '127.0.0.1';
const CALLER_HZ = 1000;
const CALLEE_HZ = 700;
const HZ_TOLERANCE = 25;
const USERS = [{ username: 'alice', password: 'alice-secret' }, { username: 'carol', password: 'carol-secret' }];

describe.each<[SipLibrary, SipLibrary]>([['jssip', 'sip.js'], ['sip.js', 'jssip']])(
  'browser-to-browser SIP call: %s calls %s, both in Chromium over WebSocket', (callerLibrary, calleeLibrary) => {
    let server: ConfluxServer;
    let workDir: string;
    let caller: SipWebPhone;
    let callee: SipWebPhone;

    beforeAll(async () => {
      const tone = browserToneFile('browsers', CALLER_HZ);
      workDir = tone.workDir;
      const calleeTone = join(workDir, `browser-${CALLEE_HZ}.wav`);
      writeToneWav(calleeTone, { frequencyHz: CALLEE_HZ, seconds: 60 });
      server = await startTestServer({
        sip: { enabled: true, host: DOMAIN, udpPort: 0, tcpPort: 0, wsPort: 0, domain: DOMAIN, users: USERS },
      });
      const ws = `ws://${DOMAIN}:${server.sip!.ports.ws}`;
      [caller, callee] = await Promise.all([SipWebPhone.launch(tone.toneFile, callerLibrary), SipWebPhone.launch(calleeTone, calleeLibrary)]);
      expect(await caller.register(ws, `sip:alice@${DOMAIN}`, USERS[0]!.password)).toBe('registered');
      expect(await callee.register(ws, `sip:carol@${DOMAIN}`, USERS[1]!.password)).toBe('registered');
    });

    afterAll(() => stopSipE2e({ webPhones: [caller, callee], phones: [], server, workDir }));

    it('rings the callee, connects both with audio relayed as it is, carries holds and keys both ways; a hang-up ends both', async () => {
      await callee.answerIncoming();
      expect(await caller.call(`sip:carol@${DOMAIN}`)).toBe('confirmed');
      await eventually(() => callee.events(), (events) => events.includes('confirmed'), 5000, 'the callee to confirm');
      expect((await callee.events())[0]).toBe('incoming:alice');
      const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
      // Chromium offers Opus first: both sides get it, untranscoded.
      expect(call).toMatchObject({ from: `sip:alice@${DOMAIN}`, to: `sip:carol@${DOMAIN}`, codec: 'opus' });
      // Two WebRTC participants in the private room, and no mixer or phone leg behind them.
      const seated = await participants(server, call!.room);
      expect(seated.map((p) => p.attributes['sip.media'])).toEqual(['webrtc', 'webrtc']);
      expect(await server.sipCalls!.audioBridge(call!.room)).toBeUndefined();
      expect((await server.rooms.get(call!.room).router.dump()).transportIds).toHaveLength(2);

      const [callerHeard, calleeHeard] = await Promise.all([caller.measure(2500), callee.measure(2500)]);
      console.log('caller heard', callerHeard, 'callee heard', calleeHeard);
      expect(callerHeard.rms).toBeGreaterThan(0.02);
      expect(Math.abs(callerHeard.dominantHz - CALLEE_HZ)).toBeLessThan(HZ_TOLERANCE);
      expect(calleeHeard.rms).toBeGreaterThan(0.02);
      expect(Math.abs(calleeHeard.dominantHz - CALLER_HZ)).toBeLessThan(HZ_TOLERANCE);

      // The caller holds (sendonly): the callee is re-offered sendonly and answers recvonly; the caller hears nothing.
      expect(await caller.hold(true)).toBe('held');
      await eventually(() => callee.audioDirection(), (direction) => direction === 'recvonly', 5000, 'the callee to be held');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const whileHeld = await caller.measure(1500);
      console.log('caller heard while holding', whileHeld);
      expect(whileHeld.rms).toBeLessThan(0.005);
      expect(await caller.hold(false)).toBe('resumed');
      await eventually(() => callee.audioDirection(), (direction) => direction === 'sendrecv', 5000, 'the callee to be resumed');
      const resumed = await eventually(() => caller.measure(1500), (audio) => audio.rms > 0.02, 8000, 'the caller to hear again');
      expect(Math.abs(resumed.dominantHz - CALLEE_HZ)).toBeLessThan(HZ_TOLERANCE);

      // The callee holds: carried to the caller the same way.
      expect(await callee.hold(true)).toBe('held');
      await eventually(() => caller.audioDirection(), (direction) => direction === 'recvonly', 5000, 'the caller to be held');
      expect(await callee.hold(false)).toBe('resumed');
      await eventually(() => caller.audioDirection(), (direction) => direction === 'sendrecv', 5000, 'the caller to be resumed');

      // Keys (SIP INFO) both ways.
      await caller.dtmf('5');
      await eventually(() => callee.events(), (events) => events.includes('dtmf:5'), 5000, 'the caller\'s key at the callee');
      await callee.dtmf('8');
      await eventually(() => caller.events(), (events) => events.includes('dtmf:8'), 5000, 'the callee\'s key at the caller');

      await callee.hangup();
      await eventually(() => caller.events(), (events) => events.some((event) => event.startsWith('ended')), 10_000, 'the caller to see the end');
      await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
      expect(server.rooms.list().filter((room) => room.name.startsWith('gw-'))).toEqual([]);
      expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private router to close')).toBe(0);
    });

    it('carries video as it is both ways when both send it, and one way when only the caller does', async () => {
      await callee.answerIncoming();
      await Promise.all([caller.sendVideo(true), callee.sendVideo(true)]);
      try {
        expect(await caller.call(`sip:carol@${DOMAIN}`)).toBe('confirmed');
        const [call] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the video call to be active');
        expect(call).toMatchObject({ codec: 'opus', videoCodec: expect.stringMatching(/^(VP8|H264)$/) });
        // Each side decodes the other's camera: frames forwarded by mediasoup, not re-encoded.
        const [callerVideo, calleeVideo] = await Promise.all([
          eventually(() => caller.video(), (video) => video.framesDecoded > 30, 10_000, 'the caller to decode video'),
          eventually(() => callee.video(), (video) => video.framesDecoded > 30, 10_000, 'the callee to decode video'),
        ]);
        console.log('caller video', callerVideo, 'callee video', calleeVideo);
        expect(callerVideo.frameWidth).toBeGreaterThan(0);
        expect(calleeVideo.frameWidth).toBeGreaterThan(0);
        const kinds = (await participants(server, call!.room)).map((p) => p.producers.map((producer) => producer.kind).sort().join('+'));
        expect(kinds).toEqual(['audio+video', 'audio+video']);
        // Audio still flows beside it.
        expect(Math.abs((await caller.measure(1500)).dominantHz - CALLEE_HZ)).toBeLessThan(HZ_TOLERANCE);
        // A hold pauses the video too, and a resume brings it back.
        expect(await caller.hold(true)).toBe('held');
        await eventually(() => callee.audioDirection(), (direction) => direction === 'recvonly', 5000, 'the callee to be held');
        expect(await caller.hold(false)).toBe('resumed');
        const before = (await caller.video()).framesDecoded;
        await eventually(() => caller.video(), (video) => video.framesDecoded > before + 15, 10_000, 'the caller to decode video after the resume');
        await caller.hangup();
        await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the video call to end');

        // The callee answers without a camera (its video recvonly): it still sees the caller, the caller sees nothing.
        await callee.sendVideo(false);
        expect(await caller.call(`sip:carol@${DOMAIN}`)).toBe('confirmed');
        const [oneWay] = await eventually(() => server.userCalls!.list(), (list) => list[0]?.state === 'active', 5000, 'the call to be active');
        expect(oneWay).toMatchObject({ codec: 'opus', videoCodec: expect.stringMatching(/^(VP8|H264)$/) });
        await eventually(() => callee.video(), (video) => video.framesDecoded > 30, 10_000, 'the callee to decode the caller\'s video');
        expect(Math.abs((await callee.measure(1500)).dominantHz - CALLER_HZ)).toBeLessThan(HZ_TOLERANCE);
        expect((await caller.video()).framesDecoded).toBe(0);
        await caller.hangup();
        await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
      } finally {
        await Promise.all([caller.sendVideo(false), callee.sendVideo(false)]);
      }
    });

    it('a caller that hangs up while the callee rings cancels the callee\'s call, and nothing is left', async () => {
      await callee.ringOnly();
      const outcome = caller.call(`sip:carol@${DOMAIN}`);
      await eventually(() => callee.events(), (events) => events[0] === 'incoming:alice', 5000, 'the callee to ring');
      await eventually(() => caller.events(), (events) => events.includes('progress:180'), 5000, 'the callee\'s ringing at the caller');
      await caller.hangup();
      expect(await outcome).toMatch(/^failed:/);
      await eventually(() => callee.events(), (events) => events.some((event) => /^(ended|failed)/.test(event)), 5000, 'the callee to be cancelled');
      await eventually(() => server.userCalls!.list(), (list) => list.length === 0, 5000, 'the call to end');
      expect(await eventually(() => routerCount(server), (count) => count === 0, 5000, 'the private router to close')).toBe(0);
    });
  });
