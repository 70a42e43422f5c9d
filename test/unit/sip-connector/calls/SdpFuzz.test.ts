import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../../server/errors.js';
import { negotiateOffer } from '../../../../sip-connector/calls/PhoneSdp.js';
import { buildWebRtcAnswer, readWebRtcSdp } from '../../../../sip-connector/calls/WebRtcSdp.js';
import { mutate, rng } from '../support/mutate.js';

const PHONE_OFFER = ['v=0', 'o=phone 1 1 IN IP4 192.0.2.7', 's=-', 'c=IN IP4 192.0.2.7', 't=0 0',
  'm=audio 4000 RTP/AVP 0 8 9 96 101', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1', 'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
const SDES_OFFER = PHONE_OFFER.replace('RTP/AVP', 'RTP/SAVP').replace('a=sendrecv',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\na=sendrecv');
const WEBRTC_OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
  'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',
  'a=setup:actpass', 'a=mid:0', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:126 telephone-event/8000', 'a=ssrc:1 cname:x', ''].join('\r\n');

/** Runs `read`; only a 488 (UnsupportedError) may come out of a hostile SDP body, never another exception. */
function survives<T>(read: () => T): T | null {
  try {
    return read();
  } catch (error) {
    if (error instanceof UnsupportedError) return null;
    throw error;
  }
}

describe('SDP fuzzing: phone offers (RTP/AVP, SDES) and WebRTC offers', () => {
  const count = Number(process.env.SIP_FUZZ_ITERATIONS ?? 3000);
  it(`refuses ${count} mutated bodies with 488 or takes them, and never throws anything else`, () => {
    const next = rng(Number(process.env.SIP_FUZZ_SEED ?? 7331));
    const seeds = [PHONE_OFFER, SDES_OFFER, WEBRTC_OFFER].map((text) => Buffer.from(text, 'latin1'));
    let taken = 0;
    for (let i = 0; i < count; i++) {
      const text = mutate(seeds[Math.floor(next() * seeds.length)]!, next).toString('latin1');
      if (survives(() => negotiateOffer(text, ['PCMU', 'PCMA', 'G722', 'opus'], 'none'))) taken++;
      if (survives(() => negotiateOffer(text, ['PCMU', 'opus'], 'sdes'))) taken++;
      const webrtc = survives(() => readWebRtcSdp(text));
      if (webrtc && webrtc.audio.codecs[0]) {
        taken++;
        // Whatever was read must also be answerable.
        expect(() => buildWebRtcAnswer({
          offer: webrtc, codec: webrtc.audio.codecs[0]!, sending: { ssrc: 5, cname: 'c' }, sessionId: '1', version: 1,
          iceParameters: { usernameFragment: 'u', password: 'p', iceLite: true },
          iceCandidates: [{ foundation: 'f', priority: 1, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
          dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: '01:02' }] },
        })).not.toThrow();
      }
    }
    // The mutations must not all be refused, or the fuzzer is not reaching the negotiation.
    expect(taken).toBeGreaterThan(count / 10);
  });
});
