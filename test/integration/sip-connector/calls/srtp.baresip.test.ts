import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'sdp-transform';
import type { ConfluxServer } from '../../../../server/ConfluxServer.js';
import type { DialOutResult } from '../../../../sip-connector/calls/SipCallTypes.js';
import { SrtpContext } from '../../../../sip-connector/media/SrtpContext.js';
import { RtpPacket } from '../../../../sip-connector/media/RtpPacket.js';
import { BaresipPhone, readWav, type DecodedWav } from '../../../support/baresip.js';
import { calls, configure, eventually, expectNothingLeft, rest, sipUdpPort, startSipServer } from '../../../support/sipCalls.js';
import { ToneRtpSender } from '../../../unit/sip-connector/media/support/rtpStream.js';
import { goertzel } from '../../../unit/sip-connector/media/support/goertzel.js';
import { spawnPeer, stopAllPeers } from '../peers.js';

const ROOM = 'secure-room';
const HOST = '127.0.0.1';
// Ports 285xx: clear of the other SIP peers of the integration and e2e tests.
const ALICE = { user: 'alice', sipPort: 28510, ctrlPort: 28515, rtpPortMin: 28520, toneHz: 1000, lifetimeMs: 80_000, srtp: true, sipTrace: true };
const BOB = { user: 'bob', sipPort: 28550, ctrlPort: 28555, rtpPortMin: 28560, toneHz: 1500, lifetimeMs: 80_000 };
// Phones send amplitude 0.3; mix-minus leaves a phone's own tone far under the other's (see the e2e phone test).
const MIN_TONE = 0.05;
const MARGIN_DB = 20;

let server: ConfluxServer;
let alice: BaresipPhone;
let bob: BaresipPhone;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const db = (ratio: number) => 20 * Math.log10(ratio);

/** Level of each tone in the middle of a recording (median of 250 ms pieces, so one glitch cannot decide). */
function toneLevels(wav: DecodedWav, frequencies: number[]): Record<number, number> {
  const start = Math.round(wav.samples.length * 0.25);
  const end = Math.round(wav.samples.length * 0.9);
  const piece = Math.round(wav.sampleRate / 4);
  const levels: Record<number, number> = {};
  for (const frequency of frequencies) {
    const pieces: number[] = [];
    for (let at = start; at + piece <= end; at += piece) pieces.push(goertzel(wav.samples.subarray(at, at + piece), wav.sampleRate, frequency));
    pieces.sort((a, b) => a - b);
    levels[frequency] = pieces[Math.floor(pieces.length / 2)] ?? 0;
  }
  return levels;
}

/** Packets the producer of the room's phone participant whose From holds `user` has received. */
async function producerPackets(user: string): Promise<number> {
  const room = server.rooms.list().find((candidate) => candidate.name === ROOM);
  const participant = room?.participants.find((p) => p.kind === 'sip' && p.attributes['sip.from']?.includes(`${user}@`));
  const producer = participant ? [...participant.producers.values()][0] : undefined;
  if (!producer) return -1;
  return (await producer.getStats())[0]?.packetCount ?? 0;
}

/**
 * A bare SIP caller over UDP that offers exactly the SDP it is given: enough to place refused calls and an
 * SRTP call whose key the test controls.
 */
class RawCaller {
  readonly responses: string[] = [];
  readonly #socket: dgram.Socket;
  readonly #callId = `raw-${randomBytes(6).toString('hex')}@${HOST}`;
  readonly #fromTag = randomBytes(4).toString('hex');
  #toTag = '';
  #contact = '';

  private constructor(socket: dgram.Socket, readonly serverPort: number, readonly called: string) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('SIP/2.0')) this.responses.push(text);
      else if (text.startsWith('BYE')) this.#reply(text);
    });
  }

  static async open(serverPort: number, called: string): Promise<RawCaller> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    return new RawCaller(socket, serverPort, called);
  }

  get #local(): string {
    return `${HOST}:${this.#socket.address().port}`;
  }

  #send(lines: string[], body = ''): void {
    const text = [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
    this.#socket.send(text, this.serverPort, HOST);
  }

  #headers(method: string, uri: string, cseq: number, branch: string): string[] {
    return [`${method} ${uri} SIP/2.0`, `Via: SIP/2.0/UDP ${this.#local};branch=z9hG4bK-${branch};rport`, 'Max-Forwards: 70',
      `From: <sip:raw@${this.#local}>;tag=${this.#fromTag}`, `To: <sip:${this.called}@${HOST}:${this.serverPort}>${this.#toTag ? `;tag=${this.#toTag}` : ''}`,
      `Call-ID: ${this.#callId}`, `CSeq: ${cseq} ${method}`, `Contact: <sip:raw@${this.#local}>`];
  }

  /** Sends the INVITE and resolves with the final response; a refusal is ACKed, a 200 is ACKed end to end. */
  async invite(sdp: string): Promise<{ status: number; body: string }> {
    const branch = randomBytes(6).toString('hex');
    this.#send([...this.#headers('INVITE', `sip:${this.called}@${HOST}:${this.serverPort}`, 1, branch), 'Content-Type: application/sdp'], sdp);
    const final = await eventually(() => this.responses.find((r) => /^SIP\/2\.0 [2-6]\d\d /.test(r)), Boolean, 10_000, 'a final response');
    const status = Number(final!.slice(8, 11));
    this.#toTag = /^To:.*;tag=([^;\s]+)/im.exec(final!)?.[1] ?? '';
    this.#contact = /^Contact:\s*<([^>]+)>/im.exec(final!)?.[1] ?? `sip:${this.called}@${HOST}:${this.serverPort}`;
    if (status >= 300) this.#send(this.#headers('ACK', `sip:${this.called}@${HOST}:${this.serverPort}`, 1, branch));
    else this.#send(this.#headers('ACK', this.#contact, 1, randomBytes(6).toString('hex')));
    return { status, body: final!.slice(final!.indexOf('\r\n\r\n') + 4) };
  }

  async bye(): Promise<void> {
    this.responses.length = 0;
    this.#send(this.#headers('BYE', this.#contact, 2, randomBytes(6).toString('hex')));
    await eventually(() => this.responses.some((r) => /^SIP\/2\.0 [2-6]\d\d /.test(r) && /CSeq: 2 BYE/i.test(r)), Boolean, 5_000, 'the answer to BYE');
  }

  #reply(request: string): void {
    const keep = request.split('\r\n').filter((line) => /^(Via|From|To|Call-ID|CSeq):/i.test(line));
    this.#send(['SIP/2.0 200 OK', ...keep]);
  }

  close(): void {
    this.#socket.close();
  }
}

/** An audio offer on `port`: RTP/AVP, or RTP/SAVP with one a=crypto line when a key is given. */
function offer(port: number, key?: string, suite = 'AES_CM_128_HMAC_SHA1_80'): string {
  return ['v=0', `o=raw 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0',
    `m=audio ${port} ${key ? 'RTP/SAVP' : 'RTP/AVP'} 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20',
    ...(key ? [`a=crypto:1 ${suite} inline:${key}`] : []), 'a=sendrecv', ''].join('\r\n');
}

beforeAll(async () => {
  server = await startSipServer();
  // Both trunks take loopback; the called number picks one (a trunk listing the number outranks the other).
  await configure(server, 'inbound-trunks', { id: 'sdes', name: 'SRTP phones', allowedAddresses: [HOST], numbers: ['secure'], mediaEncryption: 'sdes' });
  await configure(server, 'inbound-trunks', { id: 'plain', name: 'plain phones', allowedAddresses: [HOST], numbers: ['plain'], mediaEncryption: 'none' });
  await configure(server, 'dispatch-rules', { id: 'to-room', name: 'everything to one room', type: 'direct', room: ROOM });
  await configure(server, 'outbound-trunks', {
    id: 'sdes-out', name: 'SRTP dial-out', host: HOST, port: ALICE.sipPort, fromNumber: '+15550001', codecs: ['PCMU'], mediaEncryption: 'sdes',
  });
  alice = await BaresipPhone.start(ALICE);
  bob = await BaresipPhone.start(BOB);
});

// A failed test must not leave calls up for the next one.
afterEach(async () => {
  for (const call of (await calls(server)).filter((c) => c.state !== 'ended')) await rest(server, 'DELETE', `/api/v1/sip/calls/${call.id}`);
  await alice.ensureHungUp();
  await bob.ensureHungUp();
});

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await stopAllPeers();
  await server?.close();
});

describe('SDES-SRTP phone legs', () => {
  it('an SRTP baresip and a plain baresip in one room hear each other and not themselves', async () => {
    const port = sipUdpPort(server);
    alice.dial(`sip:secure@${HOST}:${port}`);
    await alice.waitForEvent('CALL_ESTABLISHED');
    bob.dial(`sip:plain@${HOST}:${port}`);
    await bob.waitForEvent('CALL_ESTABLISHED');
    const active = await eventually(() => calls(server), (list) => list.filter((c) => c.state === 'active').length === 2, 5_000, 'two active calls');
    expect(active.map((c) => [c.trunkId, c.codec]).sort()).toEqual([['plain', 'PCMU'], ['sdes', 'PCMU']]);
    // What alice was answered: RTP/SAVP with one a=crypto line of a suite she offered.
    const answer = /SIP\/2\.0 200 OK[\s\S]*?\r?\n\r?\n(v=0[\s\S]*?)(?:\r?\n\r?\n|$)/.exec(alice.output())?.[1] ?? '';
    expect(answer, alice.output()).toMatch(/^m=audio \d+ RTP\/SAVP 0/m);
    expect(answer).toMatch(/^a=crypto:\d+ AES_CM_128_HMAC_SHA1_(80|32) inline:[A-Za-z0-9+/]{40}$/m);
    await eventually(() => producerPackets('alice'), (n) => n > 50, 5_000, 'alice\'s SRTP, decrypted, reaching her producer');
    await sleep(4_000);
    alice.hangup();
    bob.hangup();
    await alice.waitForEvent('CALL_CLOSED');
    await bob.waitForEvent('CALL_CLOSED');

    const heardByAlice = toneLevels(readWav(alice.receivedRecordings().at(-1)!), [ALICE.toneHz, BOB.toneHz]);
    const heardByBob = toneLevels(readWav(bob.receivedRecordings().at(-1)!), [ALICE.toneHz, BOB.toneHz]);
    console.log(`alice hears bob ${heardByAlice[BOB.toneHz]!.toFixed(3)}, herself ${heardByAlice[ALICE.toneHz]!.toFixed(4)}; `
      + `bob hears alice ${heardByBob[ALICE.toneHz]!.toFixed(3)}, himself ${heardByBob[BOB.toneHz]!.toFixed(4)}`);
    expect(heardByAlice[BOB.toneHz]).toBeGreaterThan(MIN_TONE);
    expect(db(heardByAlice[BOB.toneHz]! / heardByAlice[ALICE.toneHz]!)).toBeGreaterThan(MARGIN_DB);
    expect(heardByBob[ALICE.toneHz]).toBeGreaterThan(MIN_TONE);
    expect(db(heardByBob[ALICE.toneHz]! / heardByBob[BOB.toneHz]!)).toBeGreaterThan(MARGIN_DB);
    await eventually(() => expectNothingLeft(server), (problems) => problems.length === 0, 5_000, 'nothing left after the calls');
  });

  it('dials an SRTP baresip out over an SDES trunk; it and a plain dial-in hear each other', async () => {
    // alice did not dial this call, so the events it brings are counted from here by hand.
    alice.events.length = 0;
    const { status, body } = await rest<DialOutResult>(server, 'POST', '/api/v1/sip/calls',
      { room: ROOM, trunkId: 'sdes-out', to: `sip:alice@${HOST}:${ALICE.sipPort}`, ringTimeoutSeconds: 10 });
    expect(status, JSON.stringify(body) + alice.output()).toBe(201);
    expect(body.call).toMatchObject({ direction: 'outbound', state: 'active', codec: 'PCMU' });
    await alice.waitForEvent('CALL_ESTABLISHED');
    // Our offer as alice got it: RTP/SAVP with both suites, each with its own key.
    const trace = alice.output().slice(alice.output().lastIndexOf('INVITE sip:alice@'));
    const invite = trace.slice(0, trace.search(/\nSIP\/2\.0 \d{3} /));
    expect(invite).toMatch(/^m=audio \d+ RTP\/SAVP 0 101/m);
    const keys = [...invite.matchAll(/^a=crypto:(\d) (\S+) inline:(\S+)/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(keys.map(([tag, suite]) => `${tag} ${suite}`)).toEqual(['1 AES_CM_128_HMAC_SHA1_80', '2 AES_CM_128_HMAC_SHA1_32']);
    expect(keys[0]![2]).not.toBe(keys[1]![2]);
    bob.dial(`sip:plain@${HOST}:${sipUdpPort(server)}`);
    await bob.waitForEvent('CALL_ESTABLISHED');
    await eventually(() => producerPackets('+15550001'), (n) => n > 50, 5_000, 'alice\'s SRTP, decrypted, in the dial-out producer');
    await sleep(4_000);
    expect((await rest(server, 'DELETE', `/api/v1/sip/calls/${body.call.id}`)).status).toBe(204);
    bob.hangup();
    await alice.waitForEvent('CALL_CLOSED');
    await bob.waitForEvent('CALL_CLOSED');
    const heardByAlice = toneLevels(readWav(alice.receivedRecordings().at(-1)!), [ALICE.toneHz, BOB.toneHz]);
    const heardByBob = toneLevels(readWav(bob.receivedRecordings().at(-1)!), [ALICE.toneHz, BOB.toneHz]);
    expect(heardByAlice[BOB.toneHz]).toBeGreaterThan(MIN_TONE);
    expect(db(heardByAlice[BOB.toneHz]! / heardByAlice[ALICE.toneHz]!)).toBeGreaterThan(MARGIN_DB);
    expect(heardByBob[ALICE.toneHz]).toBeGreaterThan(MIN_TONE);
    expect(db(heardByBob[ALICE.toneHz]! / heardByBob[BOB.toneHz]!)).toBeGreaterThan(MARGIN_DB);
    await eventually(() => expectNothingLeft(server), (problems) => problems.length === 0, 5_000, 'nothing left after the calls');
  });

  it('refuses plain RTP on the SDES trunk and RTP/SAVP on the plain trunk with 488', async () => {
    const key = randomBytes(30).toString('base64');
    const cases: Array<[string, string]> = [['secure', offer(40_000)], ['plain', offer(40_000, key)]];
    for (const [called, sdp] of cases) {
      const caller = await RawCaller.open(sipUdpPort(server), called);
      try {
        expect((await caller.invite(sdp)).status, `${called} with ${sdp}`).toBe(488);
      } finally {
        caller.close();
      }
    }
    expect((await calls(server)).filter((c) => c.state !== 'ended')).toEqual([]);
  });

  it('drops SRTP under a wrong key before the room, takes the right one, and sends SRTP under the key it answered', async () => {
    const media = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => media.bind(0, HOST, resolve));
    const received: Buffer[] = [];
    media.on('message', (data) => received.push(data));
    const ourKey = randomBytes(30).toString('base64');
    const caller = await RawCaller.open(sipUdpPort(server), 'secure');
    const tone = new ToneRtpSender('PCMU', 0, 700);
    try {
      const { status, body } = await caller.invite(offer(media.address().port, ourKey));
      expect(status).toBe(200);
      const audio = parse(body).media[0]!;
      expect(audio.protocol).toBe('RTP/SAVP');
      const crypto = audio.crypto?.[0];
      expect(crypto).toMatchObject({ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80' });
      const theirKey = crypto!.config.replace(/^inline:/, '');
      expect(theirKey).not.toBe(ourKey);
      await eventually(() => producerPackets('raw'), (n) => n >= 0, 5_000, 'the raw caller admitted with a producer');

      // A stream under a key the answer never saw: every packet fails authentication and goes nowhere.
      const wrong = new SrtpContext('AES_CM_128_HMAC_SHA1_80', randomBytes(30));
      for (let i = 0; i < 50; i++) {
        media.send(wrong.protect(tone.next()), audio.port, HOST);
        await sleep(20);
      }
      await sleep(300);
      expect(await producerPackets('raw')).toBe(0);

      // The same stream under the offered key reaches the room.
      const right = SrtpContext.fromBase64('AES_CM_128_HMAC_SHA1_80', ourKey);
      for (let i = 0; i < 50; i++) {
        media.send(right.protect(tone.next()), audio.port, HOST);
        await sleep(20);
      }
      await eventually(() => producerPackets('raw'), (n) => n >= 40, 3_000, 'the rightly keyed packets in the producer');

      // What we are sent is SRTP under the answered key: it authenticates and decrypts to PCMU.
      expect(received.length).toBeGreaterThan(20);
      const inbound = SrtpContext.fromBase64('AES_CM_128_HMAC_SHA1_80', theirKey);
      const decoded = received.slice(-20).map((packet) => RtpPacket.parse(inbound.unprotect(packet)));
      expect(decoded.every((packet) => packet.payloadType === 0 && packet.payload.length === 160)).toBe(true);
      // Plain RTP parsing of the same datagrams sees ciphertext: the payload is not what was decrypted.
      expect(RtpPacket.parse(received.at(-1)!).payload.subarray(0, 160)).not.toEqual(decoded.at(-1)!.payload);
      await caller.bye();
    } finally {
      tone.close();
      caller.close();
      media.close();
    }
    await eventually(() => expectNothingLeft(server), (problems) => problems.length === 0, 5_000, 'nothing left after the call');
  });

  it('takes SRTP with 32-bit tags from ffmpeg, keyed as offered', async () => {
    const key = randomBytes(30).toString('base64');
    const caller = await RawCaller.open(sipUdpPort(server), 'secure');
    try {
      // The offer names a port nobody listens on: only what ffmpeg sends matters here.
      const { status, body } = await caller.invite(offer(40_002, key, 'AES_CM_128_HMAC_SHA1_32'));
      expect(status).toBe(200);
      const audio = parse(body).media[0]!;
      expect(audio.crypto?.[0]).toMatchObject({ id: 1, suite: 'AES_CM_128_HMAC_SHA1_32' });
      await eventually(() => producerPackets('raw'), (n) => n >= 0, 5_000, 'the raw caller admitted with a producer');
      const ffmpeg = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi',
        '-i', 'sine=frequency=1200:sample_rate=8000:samples_per_frame=160:duration=2', '-c:a', 'pcm_mulaw', '-f', 'rtp',
        '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_32', '-srtp_out_params', key, `srtp://${HOST}:${audio.port}`], { timeoutMs: 15_000 });
      const code = await ffmpeg.exited;
      expect(code, ffmpeg.output()).toBe(0);
      await eventually(() => producerPackets('raw'), (n) => n >= 80, 3_000, 'ffmpeg\'s packets, decrypted, in the producer');
      await caller.bye();
    } finally {
      caller.close();
    }
    await eventually(() => expectNothingLeft(server), (problems) => problems.length === 0, 5_000, 'nothing left after the call');
  });
});
