import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { answerOffer, createOffer, newOfferCrypto, readAnswer } from '../../../../sip-connector/calls/PhoneSdp.js';
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

  it('refuses codecs written with a clock rate they are not registered with (488, not a mixer failure)', () => {
    for (const line of ['a=rtpmap:0 PCMU/0', 'a=rtpmap:8 PCMA/16000', 'a=rtpmap:96 opus/8000/2']) {
      const payload = /rtpmap:(\d+)/.exec(line)![1];
      expect(() => answerOffer(offer([`m=audio 4000 RTP/AVP ${payload}`, line]), ['PCMU', 'PCMA', 'opus'], local, '1'), line)
        .toThrow(UnsupportedError);
    }
    // The well-written codec beside a broken one is still taken.
    expect(answerOffer(offer(['m=audio 4000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/0', 'a=rtpmap:8 PCMA/8000']), ['PCMU', 'PCMA'], local, '1')
      .negotiated.codec.name).toBe('PCMA');
  });

  it('negotiates G.722 as static payload type 9 with its 8000 Hz RTP clock, and offers it so', () => {
    const { negotiated, answerSdp } = answerOffer(offer(['m=audio 4000 RTP/AVP 9 0 101', 'a=rtpmap:101 telephone-event/8000']),
      ['G722', 'PCMU'], local, '1');
    expect(negotiated.codec).toEqual({ name: 'G722', payloadType: 9, clockRate: 8000, channels: 1 });
    expect(parse(answerSdp).media[0]!.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`)).toEqual(['9 G722/8000', '101 telephone-event/8000']);
    expect(answerOffer(offer(['m=audio 4000 RTP/AVP 9', 'a=rtpmap:9 G722/8000']), ['G722'], local, '1').negotiated.codec.name).toBe('G722');
    // A trunk without G722 does not pick it even when offered first.
    expect(answerOffer(offer(['m=audio 4000 RTP/AVP 9 0']), ['PCMU', 'PCMA', 'opus'], local, '1').negotiated.codec.name).toBe('PCMU');
    // G722/16000 states a clock its timestamps do not run at: it is not taken.
    expect(() => answerOffer(offer(['m=audio 4000 RTP/AVP 9', 'a=rtpmap:9 G722/16000']), ['G722'], local, '1')).toThrow(UnsupportedError);
    const ours = parse(createOffer(['G722', 'PCMU'], local, '7'));
    expect(ours.media[0]).toMatchObject({ payloads: '9 0 101' });
    expect(ours.media[0]!.rtp.map((r) => `${r.codec}/${r.rate}`)).toEqual(['G722/8000', 'PCMU/8000', 'telephone-event/8000']);
    expect(readAnswer(offer(['m=audio 6000 RTP/AVP 9']), ['G722', 'PCMU']).codec).toMatchObject({ name: 'G722', clockRate: 8000 });
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

  describe('SDES-SRTP', () => {
    const KEY = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
    const KEY2 = 'PS1uQCVeeCFCR3l5Zi8oNXQhIzkiXG5FIW0haVJr';

    function refused(run: () => unknown): number {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedError);
        return (error as UnsupportedError).sipStatus;
      }
      throw new Error('accepted');
    }

    it('answers RTP/SAVP with the offered tag and suite and a fresh key of ours', () => {
      const { answerSdp, negotiated } = answerOffer(offer([
        'm=audio 4000 RTP/SAVP 0 101', 'a=rtpmap:101 telephone-event/8000',
        `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^31`,
        `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY2}`,
      ]), ['PCMU'], local, '1', 1, 'sdes');
      expect(negotiated.srtp).toMatchObject({ suite: 'AES_CM_128_HMAC_SHA1_80', tag: 1, inboundKey: KEY });
      expect(Buffer.from(negotiated.srtp!.outboundKey, 'base64')).toHaveLength(30);
      expect(negotiated.srtp!.outboundKey).not.toBe(KEY);
      const answer = parse(answerSdp);
      expect(answer.media[0]).toMatchObject({ protocol: 'RTP/SAVP', payloads: '0 101' });
      expect(answer.media[0]!.crypto).toEqual([{ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${negotiated.srtp!.outboundKey}` }]);
      // Each answer gets its own key.
      const again = answerOffer(offer(['m=audio 4000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`]), ['PCMU'], local, '1', 1, 'sdes');
      expect(again.negotiated.srtp!.outboundKey).not.toBe(negotiated.srtp!.outboundKey);
    });

    it('skips a=crypto lines it cannot honour and takes the first it can', () => {
      const { negotiated, answerSdp } = answerOffer(offer([
        'm=audio 4000 RTP/SAVP 0',
        `a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${KEY}${KEY}`,
        `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^20|1:4`,
        `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY} KDR=1`,
        `a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^8`,
        `a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:${KEY.slice(0, 20)}`,
        `a=crypto:6 AES_CM_128_HMAC_SHA1_32 inline:${KEY2}`,
      ]), ['PCMU'], local, '1', 1, 'sdes');
      expect(negotiated.srtp).toMatchObject({ suite: 'AES_CM_128_HMAC_SHA1_32', tag: 6, inboundKey: KEY2 });
      expect(parse(answerSdp).media[0]!.crypto).toHaveLength(1);
    });

    it('holds a trunk to its encryption policy with 488', () => {
      // RTP/AVP to an SDES trunk; RTP/SAVP without a usable key; RTP/SAVP to a plain trunk.
      expect(refused(() => answerOffer(offer(['m=audio 4000 RTP/AVP 0']), ['PCMU'], local, '1', 1, 'sdes'))).toBe(488);
      expect(refused(() => answerOffer(offer(['m=audio 4000 RTP/SAVP 0']), ['PCMU'], local, '1', 1, 'sdes'))).toBe(488);
      expect(refused(() => answerOffer(offer(['m=audio 4000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|1:4`]),
        ['PCMU'], local, '1', 1, 'sdes'))).toBe(488);
      expect(refused(() => answerOffer(offer(['m=audio 4000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`]),
        ['PCMU'], local, '1', 1, 'none'))).toBe(488);
      expect(answerOffer(offer(['m=audio 4000 RTP/AVP 0']), ['PCMU'], local, '1', 1, 'none').negotiated.srtp).toBeNull();
    });

    it('offers both suites for dial-out and keys the call from the answer', () => {
      const crypto = newOfferCrypto();
      expect(crypto.map((line) => [line.tag, line.suite])).toEqual([[1, 'AES_CM_128_HMAC_SHA1_80'], [2, 'AES_CM_128_HMAC_SHA1_32']]);
      expect(crypto[0]!.key).not.toBe(crypto[1]!.key);
      const ours = parse(createOffer(['PCMU'], local, '7', 1, crypto));
      expect(ours.media[0]!.protocol).toBe('RTP/SAVP');
      expect(ours.media[0]!.crypto?.map((line) => `${line.id} ${line.suite} ${line.config}`))
        .toEqual(crypto.map((line) => `${line.tag} ${line.suite} inline:${line.key}`));
      const negotiated = readAnswer(offer(['m=audio 6000 RTP/SAVP 0', `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY}`]), ['PCMU'], crypto);
      expect(negotiated.srtp).toEqual({ suite: 'AES_CM_128_HMAC_SHA1_32', tag: 2, inboundKey: KEY, outboundKey: crypto[1]!.key });
      // A tag we did not offer, a suite that does not match its tag, plain RTP: all 488.
      expect(refused(() => readAnswer(offer(['m=audio 6000 RTP/SAVP 0', `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`]), ['PCMU'], crypto))).toBe(488);
      expect(refused(() => readAnswer(offer(['m=audio 6000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY}`]), ['PCMU'], crypto))).toBe(488);
      expect(refused(() => readAnswer(offer(['m=audio 6000 RTP/AVP 0']), ['PCMU'], crypto))).toBe(488);
      expect(parse(createOffer(['PCMU'], local, '7')).media[0]!.crypto).toBeUndefined();
    });
  });
});
