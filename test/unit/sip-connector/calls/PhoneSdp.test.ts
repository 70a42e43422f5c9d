import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { answerOffer, createOffer, readAnswer } from '../../../../sip-connector/calls/PhoneSdp.js';
import { UnsupportedError } from '../../../../server/errors.js';

const local = { address: '127.0.0.1', port: 30000 };

function offer(lines: string[]): string {
  return ['v=0', 'o=phone 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', ...lines, ''].join('\r\n');
}

describe('PhoneSdp', () => {
  it('answers a G.711 offer with our preferred common codec and telephone-event', () => {
    const { answerSdp, negotiated } = answerOffer(offer([
      'm=audio 4000 RTP/AVP 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv',
    ]), ['PCMU', 'PCMA'], local, '42');
    expect(negotiated.codec).toMatchObject({ name: 'PCMU', payloadType: 0, clockRate: 8000 });
    expect(negotiated.telephoneEvent).toEqual({ payloadType: 101, clockRate: 8000 });
    expect(negotiated.remote).toEqual({ address: '192.0.2.10', port: 4000, rtcpPort: 4001 });
    expect(negotiated.localDirection).toBe('sendrecv');
    const answer = parse(answerSdp);
    expect(answer.media[0]).toMatchObject({ port: 30000, protocol: 'RTP/AVP', payloads: '0 101', direction: 'sendrecv', ptime: 20 });
    expect(answer.connection?.ip).toBe('127.0.0.1');
  });

  it('negotiates Opus with its dynamic payload type and media-level connection', () => {
    const { negotiated, answerSdp } = answerOffer(offer([
      'm=audio 5000 RTP/AVP 96 0', 'c=IN IP4 198.51.100.7', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1', 'a=rtcp:5009',
    ]), ['opus', 'PCMU'], local, '1');
    expect(negotiated.codec).toMatchObject({ name: 'opus', payloadType: 96, clockRate: 48000, channels: 2 });
    expect(negotiated.remote).toEqual({ address: '198.51.100.7', port: 5000, rtcpPort: 5009 });
    expect(negotiated.telephoneEvent).toBeNull();
    expect(answerSdp).toContain('a=rtpmap:96 opus/48000/2');
  });

  it('answers hold with the mirrored direction', () => {
    const held = answerOffer(offer(['m=audio 4000 RTP/AVP 0', 'a=sendonly']), ['PCMU'], local, '1');
    expect(held.negotiated.localDirection).toBe('recvonly');
    expect(parse(held.answerSdp).media[0]!.direction).toBe('recvonly');
    expect(answerOffer(offer(['m=audio 4000 RTP/AVP 0', 'a=inactive']), ['PCMU'], local, '1').negotiated.localDirection).toBe('inactive');
    const oldStyle = offer(['m=audio 4000 RTP/AVP 0']).replace('c=IN IP4 192.0.2.10', 'c=IN IP4 0.0.0.0');
    expect(answerOffer(oldStyle, ['PCMU'], local, '1').negotiated.localDirection).toBe('recvonly');
  });

  it('refuses what it cannot do with 488', () => {
    const cases = [
      'garbage',
      '',
      offer(['m=audio 4000 RTP/AVP 18', 'a=rtpmap:18 G729/8000']),
      offer(['m=video 4000 RTP/AVP 96', 'a=rtpmap:96 VP8/90000']),
      offer(['m=audio 0 RTP/AVP 0']),
      offer(['m=audio 4000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz']),
      offer(['m=audio 4000 UDP/TLS/RTP/SAVPF 111']),
      offer(['m=audio 4000 RTP/AVP 0']).replace('c=IN IP4 192.0.2.10', 'c=IN IP4 not-an-ip'),
    ];
    for (const sdp of cases) {
      let caught: unknown;
      try {
        answerOffer(sdp, ['PCMU', 'PCMA', 'opus'], local, '1');
      } catch (error) {
        caught = error;
      }
      expect(caught, sdp).toBeInstanceOf(UnsupportedError);
      expect((caught as UnsupportedError).sipStatus).toBe(488);
    }
  });

  it('offers the trunk codecs for dial-out and reads the answer', () => {
    const ours = parse(createOffer(['PCMA', 'opus'], local, '7'));
    expect(ours.media[0]).toMatchObject({ payloads: '8 111 101', protocol: 'RTP/AVP' });
    expect(ours.media[0]!.rtp.map((r) => `${r.codec}/${r.rate}`)).toEqual(['PCMA/8000', 'opus/48000', 'telephone-event/8000']);
    const negotiated = readAnswer(offer(['m=audio 6000 RTP/AVP 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=recvonly']), ['PCMA', 'opus']);
    expect(negotiated).toMatchObject({ codec: { name: 'PCMA' }, telephoneEvent: { payloadType: 101 }, localDirection: 'sendonly' });
    expect(() => readAnswer(offer(['m=audio 6000 RTP/AVP 0']), ['PCMA'])).toThrow(UnsupportedError);
  });
});
