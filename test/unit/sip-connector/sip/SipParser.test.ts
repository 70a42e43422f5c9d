import { describe, expect, it } from 'vitest';
import { INVALID, SDP, VALID } from '../../../fixtures/sip/corpus.js';
import { SipParser } from '../../../../sip-connector/sip/SipParser.js';
import type { SipRequest } from '../../../../sip-connector/sip/SipRequest.js';
import { SipResponse } from '../../../../sip-connector/sip/SipResponse.js';
import { SipStreamFramer } from '../../../../sip-connector/sip/SipStreamFramer.js';
import { NameAddr } from '../../../../sip-connector/sip/NameAddr.js';
import { SipUri } from '../../../../sip-connector/sip/SipUri.js';
import { SipParseError } from '../../../../sip-connector/sip/SipParseError.js';

const parser = new SipParser();
const parse = (text: string): SipRequest | SipResponse => parser.parseOrThrow(Buffer.from(text, 'utf8'));

describe('SipParser corpus', () => {
  for (const entry of VALID) {
    it(`accepts: ${entry.name}`, () => {
      const r = parser.parse(Buffer.from(entry.text, 'utf8'));
      expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    });
  }
  for (const entry of INVALID) {
    it(`rejects: ${entry.name} → ${entry.expect}`, () => {
      const r = parser.parse(Buffer.from(entry.text, 'utf8'));
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toBeInstanceOf(SipParseError);
      if (entry.expect === 'drop') expect(r.request).toBeUndefined();
      else {
        expect(r.request, r.error.message).toBeDefined();
        expect(r.error.status).toBe(entry.expect);
      }
    });
  }
});

describe('SipParser details', () => {
  it('expands compact forms, unfolds lines and splits lists', () => {
    const msg = parse(VALID[1]!.text) as SipRequest;
    expect(msg.callId).toBe('compact@192.0.2.1');
    expect(msg.cseq).toEqual({ seq: 7, method: 'INVITE' });
    expect(msg.optionTags('Supported')).toEqual(['100rel', 'timer']);
    expect(msg.get('Subject')).toBe('folded subject line');
    expect(msg.to.uri.user).toBe('bob');
    expect(msg.contentType).toBe('application/sdp');
  });

  it('tolerates LWS around separators and reads escaped quotes', () => {
    const msg = parse(VALID[2]!.text) as SipRequest;
    const via = msg.topVia;
    expect(via.transport).toBe('UDP');
    expect(via.port).toBe(5060);
    expect(via.branch).toBe('z9hG4bK-ws1');
    expect(via.rport).toBeNull();
    expect(msg.to.displayName).toBe('Bob "the" Builder');
    expect(msg.from.displayName).toBe('Alice');
  });

  it('decodes escaped URIs', () => {
    const msg = parse(VALID[3]!.text) as SipRequest;
    expect(msg.uri.user).toBe('sips:user@example.com');
    expect(msg.uri.transport).toBe('tcp');
    expect(msg.uri.headers.get('Subject')).toBe('hello world');
    const semi = parse(VALID[4]!.text) as SipRequest;
    expect(semi.uri.user).toBe('user;par=u@example.net');
    expect(semi.uri.host).toBe('example.com');
  });

  it('parses IPv6 references', () => {
    const msg = parse(VALID[5]!.text) as SipRequest;
    expect(msg.uri.host).toBe('2001:db8::10');
    expect(msg.uri.port).toBe(5070);
    expect(msg.topVia.host).toBe('2001:db8::9:1');
    expect(msg.topVia.received).toBe('2001:db8::9:255');
    expect(msg.uri.toString()).toBe('sip:[2001:db8::10]:5070;transport=udp');
  });

  it('keeps non-ASCII display names', () => {
    const msg = parse(VALID[6]!.text);
    expect(msg.from.displayName).toBe('Zoë Ærøskøbing 日本');
    expect(msg.bodyText).toBe('hello');
  });

  it('merges repeated and comma-separated headers in order', () => {
    const msg = parse(VALID[7]!.text);
    expect(msg.vias.map((v) => v.host)).toEqual(['p1.example.com', 'p2.example.com', '192.0.2.1']);
    expect(msg.getAll('Route')).toHaveLength(3);
    const contacts = msg.contacts;
    expect(contacts[0]!.displayName).toBe('A, B');
    expect(contacts[1]!.params.get('expires')).toBe('60');
  });

  it('parses tel URIs and keeps unknown schemes opaque', () => {
    expect((parse(VALID[8]!.text) as SipRequest).uri.user).toBe('+1-201-555-0123');
    const other = parse(VALID[9]!.text) as SipRequest;
    expect(other.uri.scheme).toBe('nobody');
  });

  it('truncates a datagram body to Content-Length', () => {
    expect(parse(VALID[11]!.text).body.length).toBe(10);
  });

  it('requires exact Content-Length framing on streams', () => {
    const text = VALID[0]!.text;
    expect(parser.parse(Buffer.from(text), true).ok).toBe(true);
    expect(parser.parse(Buffer.from(text + 'extra'), true).ok).toBe(false);
    const noCl = text.replace(/Content-Length: \d+\r\n/, '');
    expect(parser.parse(Buffer.from(noCl), true).ok).toBe(false);
    expect(parser.parse(Buffer.from(noCl), false).ok).toBe(true);
  });

  it('applies configurable limits', () => {
    const small = new SipParser({ maxMessageBytes: 200 });
    const r = small.parse(Buffer.from(VALID[0]!.text));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.status).toBe(513);
  });
});

describe('serializer round trip', () => {
  for (const entry of VALID) {
    it(`round-trips: ${entry.name}`, () => {
      const first = parse(entry.text);
      const wire = first.toBuffer();
      const second = parser.parseOrThrow(wire, true);
      expect(second.startLine()).toBe(first.startLine());
      expect(second.headers.filter((h) => h.name !== 'Content-Length')).toEqual(first.headers.filter((h) => h.name !== 'Content-Length'));
      expect(second.body.equals(first.body)).toBe(true);
      expect(second.toBuffer().equals(wire)).toBe(true);
    });
  }

  it('builds responses that copy the identifying headers', () => {
    const req = parse(VALID[0]!.text) as SipRequest;
    const res = SipResponse.forRequest(req, 180, undefined, 'totag');
    const again = parse(res.toString()) as SipResponse;
    expect(again.status).toBe(180);
    expect(again.reason).toBe('Ringing');
    expect(again.to.tag).toBe('totag');
    expect(again.callId).toBe(req.callId);
    expect(again.topVia.branch).toBe('z9hG4bK-abc1');
  });

  it('serializes URIs and addresses with escaping and quoting', () => {
    const uri = SipUri.parse('sip:a%20b@example.com:5061;transport=tls;lr?h=v%26w');
    expect(uri.user).toBe('a b');
    expect(SipUri.parse(uri.toString()).toString()).toBe(uri.toString());
    const na = new NameAddr(uri, 'say "hi"', new Map([['tag', 'x']]));
    const back = NameAddr.parse(na.toString());
    expect(back.displayName).toBe('say "hi"');
    expect(back.tag).toBe('x');
    expect(back.uri.port).toBe(5061);
    expect(back.uri.headers.get('h')).toBe('v&w');
  });
});

describe('SipStreamFramer', () => {
  it('frames messages split at arbitrary points and recognises CRLF keep-alives', () => {
    const msg = Buffer.from(VALID[0]!.text);
    const stream = Buffer.concat([Buffer.from('\r\n\r\n'), msg, Buffer.from('\r\n'), msg]);
    for (const step of [1, 7, 100, stream.length]) {
      const framer = new SipStreamFramer();
      const frames = [];
      for (let i = 0; i < stream.length; i += step) frames.push(...framer.push(stream.subarray(i, i + step)));
      const kinds = frames.map((f) => f.type);
      expect(kinds.filter((k) => k === 'message')).toHaveLength(2);
      expect(kinds[0]).toBe('ping');
      expect(kinds).toEqual(['ping', 'message', 'pong', 'message']);
      const first = frames.find((f) => f.type === 'message');
      expect(first && first.type === 'message' && first.data.equals(msg)).toBe(true);
    }
    expect(SDP.length).toBeGreaterThan(0);
  });

  it('fails when Content-Length is missing or too large', () => {
    const f = new SipStreamFramer(1000);
    expect(f.push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n'))[0]?.type).toBe('error');
    const g = new SipStreamFramer(1000);
    expect(g.push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nContent-Length: 5000\r\n\r\n'))[0]?.type).toBe('error');
  });
});
