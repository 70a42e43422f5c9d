import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InviteClientTransaction } from '../../../../sip-connector/sip/InviteClientTransaction.js';
import { InviteServerTransaction } from '../../../../sip-connector/sip/InviteServerTransaction.js';
import { NonInviteClientTransaction } from '../../../../sip-connector/sip/NonInviteClientTransaction.js';
import { NonInviteServerTransaction } from '../../../../sip-connector/sip/NonInviteServerTransaction.js';
import { silentLogger } from '../../../../sip-connector/sip/Logger.js';
import { SipParser } from '../../../../sip-connector/sip/SipParser.js';
import type { SipMessage } from '../../../../sip-connector/sip/SipMessage.js';
import type { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import { SipResponse } from '../../../../sip-connector/sip/SipResponse.js';
import type { SipTimers } from '../../../../sip-connector/sip/TransactionTypes.js';

const T: SipTimers = { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 };

function request(method: string): SipRequest {
  const text = [`${method} sip:bob@example.net SIP/2.0`, 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-tx1',
    'From: <sip:alice@example.com>;tag=a', 'To: <sip:bob@example.net>', 'Call-ID: tx@x', `CSeq: 1 ${method}`,
    'Route: <sip:proxy.example.net;lr>', 'Content-Length: 0', '', ''].join('\r\n');
  return new SipParser().parseOrThrow(text) as SipRequest;
}

/** Records what a transaction puts on the wire, with the (fake) time it did. */
function recorder(reliable = false): { channel: { reliable: boolean; send: (m: SipMessage) => Promise<void> }; sent: Array<{ at: number; msg: SipMessage }> } {
  const sent: Array<{ at: number; msg: SipMessage }> = [];
  const start = Date.now();
  return { sent, channel: { reliable, send: async (msg) => { sent.push({ at: Date.now() - start, msg }); } } };
}

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('NonInviteClientTransaction', () => {
  it('retransmits with timer E doubling up to T2, then times out with F at 64*T1', () => {
    const { channel, sent } = recorder();
    const tx = new NonInviteClientTransaction(request('OPTIONS'), channel, T, silentLogger);
    const timeout = vi.fn();
    tx.on('timeout', timeout);
    tx.start();
    vi.advanceTimersByTime(64 * T.t1Ms - 1);
    expect(timeout).not.toHaveBeenCalled();
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    vi.advanceTimersByTime(1);
    expect(timeout).toHaveBeenCalledOnce();
    expect(tx.state).toBe('terminated');
  });

  it('pins E to T2 in Proceeding and waits T4 (timer K) after the final response', () => {
    const { channel, sent } = recorder();
    const req = request('OPTIONS');
    const tx = new NonInviteClientTransaction(req, channel, T, silentLogger);
    const responses: number[] = [];
    tx.on('response', (r) => responses.push(r.status));
    tx.start();
    vi.advanceTimersByTime(600);
    tx.receiveResponse(SipResponse.forRequest(req, 100));
    vi.advanceTimersByTime(4000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500]);
    vi.advanceTimersByTime(4000);
    expect(sent.at(-1)?.at).toBe(5500);
    tx.receiveResponse(SipResponse.forRequest(req, 200));
    tx.receiveResponse(SipResponse.forRequest(req, 200));
    expect(responses).toEqual([100, 200]);
    expect(tx.state).toBe('completed');
    vi.advanceTimersByTime(T.t4Ms);
    expect(tx.state).toBe('terminated');
  });

  it('sends once and never retransmits on a reliable transport', () => {
    const { channel, sent } = recorder(true);
    const tx = new NonInviteClientTransaction(request('OPTIONS'), channel, T, silentLogger);
    tx.start();
    vi.advanceTimersByTime(40_000);
    expect(sent).toHaveLength(1);
    expect(tx.state).toBe('terminated');
  });
});

describe('InviteClientTransaction', () => {
  it('retransmits with timer A doubling and gives up with B', () => {
    const { channel, sent } = recorder();
    const tx = new InviteClientTransaction(request('INVITE'), channel, T, silentLogger);
    const timeout = vi.fn();
    tx.on('timeout', timeout);
    tx.start();
    vi.advanceTimersByTime(32_000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(timeout).toHaveBeenCalledOnce();
  });

  it('acknowledges a non-2xx itself, re-ACKs retransmissions and ends after D', () => {
    const { channel, sent } = recorder();
    const req = request('INVITE');
    const tx = new InviteClientTransaction(req, channel, T, silentLogger);
    tx.start();
    tx.receiveResponse(SipResponse.forRequest(req, 180, undefined, 'b1'));
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(1);
    const busy = SipResponse.forRequest(req, 486, undefined, 'b1');
    tx.receiveResponse(busy);
    tx.receiveResponse(busy);
    const acks = sent.filter((s) => (s.msg as SipRequest).method === 'ACK').map((s) => s.msg as SipRequest);
    expect(acks).toHaveLength(2);
    const ack = acks[0] as SipRequest;
    expect(ack.topVia.branch).toBe('z9hG4bK-tx1');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.to.tag).toBe('b1');
    expect(ack.getAll('Route')).toEqual(['<sip:proxy.example.net;lr>']);
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe('completed');
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe('terminated');
  });

  it('passes 2xx retransmissions up in Accepted and ends after M (RFC 6026)', () => {
    const { channel } = recorder();
    const req = request('INVITE');
    const tx = new InviteClientTransaction(req, channel, T, silentLogger);
    const seen: number[] = [];
    tx.on('response', (r) => seen.push(r.status));
    tx.start();
    const ok = SipResponse.forRequest(req, 200, undefined, 'b');
    tx.receiveResponse(ok);
    tx.receiveResponse(ok);
    expect(seen).toEqual([200, 200]);
    expect(tx.state).toBe('accepted');
    vi.advanceTimersByTime(64 * T.t1Ms);
    expect(tx.state).toBe('terminated');
  });
});

describe('InviteServerTransaction', () => {
  it('sends 100 Trying after 200 ms when the TU is silent, and repeats it for retransmitted INVITEs', () => {
    const { channel, sent } = recorder();
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, channel, T, silentLogger);
    vi.advanceTimersByTime(199);
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect((sent[0]?.msg as SipResponse).status).toBe(100);
    tx.receiveRequest(req);
    expect(sent).toHaveLength(2);
  });

  it('retransmits a non-2xx final with G until the ACK, then absorbs ACKs for T4 (timer I)', () => {
    const { channel, sent } = recorder();
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, channel, T, silentLogger);
    tx.respond(SipResponse.forRequest(req, 486, undefined, 't'));
    vi.advanceTimersByTime(7600);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500]);
    const ack = request('INVITE');
    ack.method = 'ACK';
    ack.set('CSeq', '1 ACK');
    tx.receiveRequest(ack);
    expect(tx.state).toBe('confirmed');
    vi.advanceTimersByTime(20_000);
    expect(sent).toHaveLength(5);
    expect(tx.state).toBe('terminated');
  });

  it('times out with H when no ACK comes', () => {
    const { channel } = recorder();
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, channel, T, silentLogger);
    const timeout = vi.fn();
    tx.on('timeout', timeout);
    tx.respond(SipResponse.forRequest(req, 404, undefined, 't'));
    vi.advanceTimersByTime(64 * T.t1Ms);
    expect(timeout).toHaveBeenCalledOnce();
    expect(tx.state).toBe('terminated');
  });

  it('lets the core retransmit 2xx in Accepted and ends after L', () => {
    const { channel, sent } = recorder();
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, channel, T, silentLogger);
    const ok = SipResponse.forRequest(req, 200, undefined, 't');
    tx.respond(ok);
    tx.respond(ok);
    tx.receiveRequest(req);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(64 * T.t1Ms);
    expect(tx.state).toBe('terminated');
  });
});

describe('NonInviteServerTransaction', () => {
  it('answers retransmissions with the last response and lingers for J', () => {
    const { channel, sent } = recorder();
    const req = request('OPTIONS');
    const tx = new NonInviteServerTransaction(req, channel, T, silentLogger);
    tx.receiveRequest(req);
    expect(sent).toHaveLength(0);
    tx.respond(SipResponse.forRequest(req, 200, undefined, 't'));
    tx.receiveRequest(req);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(64 * T.t1Ms - 1);
    expect(tx.state).toBe('completed');
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe('terminated');
  });

  it('honours small configurable timers', () => {
    const { channel } = recorder();
    const req = request('OPTIONS');
    const tx = new NonInviteServerTransaction(req, channel, { t1Ms: 10, t2Ms: 40, t4Ms: 50 }, silentLogger);
    tx.respond(SipResponse.forRequest(req, 200));
    vi.advanceTimersByTime(640);
    expect(tx.state).toBe('terminated');
  });
});
