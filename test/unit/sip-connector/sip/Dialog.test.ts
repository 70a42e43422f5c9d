import { describe, expect, it } from 'vitest';
import { Dialog } from '../../../../sip-connector/sip/Dialog.js';
import { SipParser } from '../../../../sip-connector/sip/SipParser.js';
import type { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import type { SipResponse } from '../../../../sip-connector/sip/SipResponse.js';

const parser = new SipParser();
const msg = (...lines: string[]): SipRequest | SipResponse => parser.parseOrThrow([...lines, 'Content-Length: 0', '', ''].join('\r\n'));

const invite = msg(
  'INVITE sip:bob@example.net SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-d1',
  'From: "A" <sip:alice@example.com>;tag=atag', 'To: <sip:bob@example.net>', 'Call-ID: dlg@x', 'CSeq: 5 INVITE',
  'Contact: <sip:alice@192.0.2.1:5062>',
  'Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.com;lr>',
) as SipRequest;

const ok = msg(
  'SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-d1', 'From: "A" <sip:alice@example.com>;tag=atag',
  'To: <sip:bob@example.net>;tag=btag', 'Call-ID: dlg@x', 'CSeq: 5 INVITE', 'Contact: <sip:bob@198.51.100.7:5080>',
  'Record-Route: <sip:p2.example.net;lr>', 'Record-Route: <sip:p1.example.com;lr>',
) as SipResponse;

describe('Dialog', () => {
  it('UAC: reverses Record-Route, targets the Contact and increments CSeq except for ACK', () => {
    const d = Dialog.asUac(invite, ok);
    expect(d.state).toBe('confirmed');
    expect(d.id).toBe('dlg@x|atag|btag');
    expect(d.routeSet).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    const bye = d.createRequest('BYE');
    expect(bye.uri.toString()).toBe('sip:bob@198.51.100.7:5080');
    expect(bye.getAll('Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    expect(bye.cseq).toEqual({ seq: 6, method: 'BYE' });
    expect(bye.to.tag).toBe('btag');
    expect(bye.from.tag).toBe('atag');
    expect(d.nextHop().host).toBe('p1.example.com');
    expect(d.createRequest('ACK', 5).cseq).toEqual({ seq: 5, method: 'ACK' });
    expect(d.createRequest('INFO').cseq.seq).toBe(7);
  });

  it('UAS: keeps Record-Route order, adopts the caller Contact and checks CSeq order', () => {
    const d = Dialog.asUas(invite, 'mytag');
    expect(d.state).toBe('early');
    expect(d.id).toBe('dlg@x|mytag|atag');
    expect(d.routeSet).toEqual(['<sip:p2.example.net;lr>', '<sip:p1.example.com;lr>']);
    expect(d.remoteTarget.toString()).toBe('sip:alice@192.0.2.1:5062');
    const stale = msg('INFO sip:bob@x SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK-i', 'From: <sip:alice@example.com>;tag=atag',
      'To: <sip:bob@example.net>;tag=mytag', 'Call-ID: dlg@x', 'CSeq: 5 INFO') as SipRequest;
    expect(d.receiveRequest(stale)).toBe(false);
    const refresh = msg('INVITE sip:bob@x SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK-r', 'From: <sip:alice@example.com>;tag=atag',
      'To: <sip:bob@example.net>;tag=mytag', 'Call-ID: dlg@x', 'CSeq: 6 INVITE', 'Contact: <sip:alice@203.0.113.9>') as SipRequest;
    expect(d.receiveRequest(refresh)).toBe(true);
    expect(d.remoteTarget.host).toBe('203.0.113.9');
    expect(d.remoteSeq).toBe(6);
  });

  it('strict routing: the first route becomes the Request-URI and the target the last Route', () => {
    const strict = msg(
      'SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-d1', 'From: <sip:alice@example.com>;tag=atag',
      'To: <sip:bob@example.net>;tag=b', 'Call-ID: dlg@x', 'CSeq: 5 INVITE', 'Contact: <sip:bob@198.51.100.7>',
      'Record-Route: <sip:strict.example.net>',
    ) as SipResponse;
    const d = Dialog.asUac(invite, strict);
    const bye = d.createRequest('BYE');
    expect(bye.uri.toString()).toBe('sip:strict.example.net');
    expect(bye.getAll('Route')).toEqual(['<sip:bob@198.51.100.7>']);
  });

  it('an early dialog takes the route set and target of the 2xx that confirms it', () => {
    const ringing = msg(
      'SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-d1', 'From: <sip:alice@example.com>;tag=atag',
      'To: <sip:bob@example.net>;tag=btag', 'Call-ID: dlg@x', 'CSeq: 5 INVITE', 'Contact: <sip:bob@10.0.0.1>',
    ) as SipResponse;
    const d = Dialog.asUac(invite, ringing);
    expect(d.state).toBe('early');
    expect(d.routeSet).toEqual([]);
    d.confirm(ok);
    expect(d.state).toBe('confirmed');
    expect(d.remoteTarget.host).toBe('198.51.100.7');
    expect(d.routeSet).toHaveLength(2);
  });
});
