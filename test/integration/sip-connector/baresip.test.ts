import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingCall } from '../../../sip-connector/sip/IncomingCall.js';
import type { SipServer } from '../../../sip-connector/SipServer.js';
import { BaresipPhone } from '../../support/baresip.js';
import { pcmuSdp, startStack, stopAllPeers, waitFor } from './peers.js';

// baresip also listens for SIP over TLS on sipPort + 1. It sends a 440 Hz tone, long enough to outlast the calls.
const ALICE = {
  user: 'alice', sipPort: 26260, ctrlPort: 26265, rtpPortMin: 26300, toneHz: 440, toneAmplitude: 8000 / 32767, lifetimeMs: 110_000,
  record: false,
};
let stack: SipServer;
let baresip: BaresipPhone;

beforeAll(async () => {
  stack = await startStack({ tcpPort: null });
  baresip = await BaresipPhone.start(ALICE);
});

afterAll(async () => {
  await baresip?.stop();
  await stopAllPeers();
  await stack?.close();
});

describe('baresip interop', () => {
  it('the stack calls baresip: offer/answer completes, the stack hangs up with BYE', async () => {
    const call = stack.userAgent.sendInvite(`sip:alice@127.0.0.1:${ALICE.sipPort}`, pcmuSdp(26400));
    const answer = await new Promise<string>((res, rej) => {
      setTimeout(() => rej(new Error(`no answer from baresip\n${baresip.output()}`)), 10_000);
      call.once('answered', res);
      call.once('failed', (s, r) => rej(new Error(`${s} ${r}\n${baresip.output()}`)));
    });
    expect(answer).toMatch(/m=audio \d+ RTP\/AVP 0/);
    expect(answer).toContain('PCMU/8000');
    await waitFor(() => baresip.eventTypes.includes('CALL_ESTABLISHED'), 5000, 'baresip CALL_ESTABLISHED');
    await new Promise((r) => setTimeout(r, 500));
    await call.bye();
    await waitFor(() => baresip.eventTypes.includes('CALL_CLOSED'), 5000, 'baresip CALL_CLOSED');
  });

  it('baresip calls the stack: the stack answers, baresip hangs up with BYE', async () => {
    const incoming = new Promise<IncomingCall>((res) => stack.userAgent.onInvite((c) => res(c)));
    baresip.dial(`sip:room@127.0.0.1:${stack.ports.udp}`);
    const call = await Promise.race([incoming, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no INVITE from baresip\n${baresip.output()}`)), 10_000))]);
    expect(call.offer).toMatch(/PCMU\/8000/);
    const ended = new Promise<string>((res) => call.once('ended', res));
    call.ring();
    call.answer(pcmuSdp(26402));
    await waitFor(() => baresip.eventTypes.includes('CALL_ESTABLISHED'), 5000, 'baresip CALL_ESTABLISHED');
    await new Promise((r) => setTimeout(r, 500));
    baresip.hangup();
    expect(await ended).toBe('remote-bye');
    stack.userAgent.onInvite((c) => c.reject(404));
  });
});
