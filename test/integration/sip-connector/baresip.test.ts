import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingCall } from '../../../sip-connector/sip/IncomingCall.js';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { pcmuSdp, scratchDir, spawnPeer, startStack, stopAllPeers, waitFor, type Peer } from './peers.js';

const SIP_PORT = 26260;
// baresip also listens for SIP over TLS on SIP_PORT + 1
const CTRL_PORT = 26265;
const FIXTURES = resolve(import.meta.dirname, '../../fixtures/sip/baresip');
let stack: SipServer;
let baresip: Peer;
let ctrl: net.Socket;
const baresipEvents: string[] = [];

/** A 8 kHz mono 16-bit WAV with a 440 Hz tone, long enough to outlast the calls. */
function toneWav(path: string, seconds: number): void {
  const rate = 8000;
  const samples = rate * seconds;
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + samples * 2, 4); buf.write('WAVE', 8); buf.write('fmt ', 12);
  buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22); buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34); buf.write('data', 36);
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  writeFileSync(path, buf);
}

/** Sends a ctrl_tcp command (netstring-framed JSON). */
function command(cmd: string, params = ''): void {
  const json = JSON.stringify({ command: cmd, params, token: String(Date.now()) });
  ctrl.write(`${Buffer.byteLength(json)}:${json},`);
}

beforeAll(async () => {
  const dir = scratchDir('baresip');
  const wav = join(dir, 'tone.wav');
  toneWav(wav, 120);
  const fill = (text: string): string => text.replaceAll('@SIP_PORT@', String(SIP_PORT)).replaceAll('@CTRL_PORT@', String(CTRL_PORT))
    .replaceAll('@WAV@', wav).replaceAll('@RTP_MIN@', '26300').replaceAll('@RTP_MAX@', '26319');
  for (const f of ['config', 'accounts', 'contacts']) writeFileSync(join(dir, f), fill(readFileSync(join(FIXTURES, f), 'utf8')));
  stack = await startStack({ tcpPort: null });
  baresip = spawnPeer('baresip', ['-f', dir], { timeoutMs: 110_000 });
  const start = Date.now();
  for (;;) {
    try {
      ctrl = await new Promise<net.Socket>((res, rej) => {
        const s = net.connect(CTRL_PORT, '127.0.0.1', () => res(s));
        s.once('error', rej);
      });
      break;
    } catch {
      if (Date.now() - start > 10_000) throw new Error(`baresip ctrl_tcp not reachable:\n${baresip.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  ctrl.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/"type":"(CALL_[A-Z_]+)"/g)) baresipEvents.push(m[1] as string);
  });
});

afterAll(async () => {
  ctrl?.destroy();
  await stopAllPeers();
  await stack?.close();
});

describe('baresip interop', () => {
  it('the stack calls baresip: offer/answer completes, the stack hangs up with BYE', async () => {
    const call = stack.userAgent.sendInvite(`sip:alice@127.0.0.1:${SIP_PORT}`, pcmuSdp(26400));
    const answer = await new Promise<string>((res, rej) => {
      setTimeout(() => rej(new Error(`no answer from baresip\n${baresip.output()}`)), 10_000);
      call.once('answered', res);
      call.once('failed', (s, r) => rej(new Error(`${s} ${r}\n${baresip.output()}`)));
    });
    expect(answer).toMatch(/m=audio \d+ RTP\/AVP 0/);
    expect(answer).toContain('PCMU/8000');
    await waitFor(() => baresipEvents.includes('CALL_ESTABLISHED'), 5000, 'baresip CALL_ESTABLISHED');
    await new Promise((r) => setTimeout(r, 500));
    await call.bye();
    await waitFor(() => baresipEvents.includes('CALL_CLOSED'), 5000, 'baresip CALL_CLOSED');
  });

  it('baresip calls the stack: the stack answers, baresip hangs up with BYE', async () => {
    baresipEvents.length = 0;
    const incoming = new Promise<IncomingCall>((res) => stack.userAgent.onInvite((c) => res(c)));
    command('dial', `sip:room@127.0.0.1:${stack.ports.udp}`);
    const call = await Promise.race([incoming, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no INVITE from baresip\n${baresip.output()}`)), 10_000))]);
    expect(call.offer).toMatch(/PCMU\/8000/);
    const ended = new Promise<string>((res) => call.once('ended', res));
    call.ring();
    call.answer(pcmuSdp(26402));
    await waitFor(() => baresipEvents.includes('CALL_ESTABLISHED'), 5000, 'baresip CALL_ESTABLISHED');
    await new Promise((r) => setTimeout(r, 500));
    command('hangup');
    expect(await ended).toBe('remote-bye');
    stack.userAgent.onInvite((c) => c.reject(404));
  });
});
