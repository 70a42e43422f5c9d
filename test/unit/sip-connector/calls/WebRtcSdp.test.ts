import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../../../server/errors.js';
import {
  buildWebRtcAnswer, buildWebRtcOffer, consumerRtpCapabilities, consumerVideoRtpCapabilities, isWebRtcSdp, producerRtpParameters,
  producerVideoRtpParameters, readWebRtcSdp, routerVideoCodec,
} from '../../../../sip-connector/calls/WebRtcSdp.js';

/** The shape of Chromium's offer for an audio call (JsSIP), with a video m-line added to see it refused. */
const CHROME_OFFER = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed',
  'a=msid-semantic: WMS stream1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0',
  'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',
  'a=setup:actpass', 'a=mid:0', 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv', 'a=msid:stream1 track1', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111', 'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:13 CN/8000', 'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000', 'a=ssrc:1111 cname:browsercname', 'a=ssrc:1111 msid:stream1 track1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=setup:actpass', 'a=rtcp-mux', 'a=rtpmap:96 VP8/90000', 'a=recvonly', '',
].join('\r\n');

describe('WebRtcSdp', () => {
  it('reads a browser offer: DTLS role and fingerprint, the audio codecs in order, its SSRC, mid and extensions', () => {
    expect(isWebRtcSdp(CHROME_OFFER)).toBe(true);
    expect(isWebRtcSdp('v=0\r\nm=audio 4000 RTP/AVP 0\r\n')).toBe(false);
    const offer = readWebRtcSdp(CHROME_OFFER);
    expect(offer.dtlsParameters.role).toBe('client');
    expect(offer.dtlsParameters.fingerprints[0]).toMatchObject({ algorithm: 'sha-256' });
    expect(offer.audio.codecs.map((c) => `${c.name}/${c.payloadType}`)).toEqual(['opus/111', 'G722/9', 'PCMU/0', 'PCMA/8']);
    expect(offer.audio.telephoneEvent).toEqual({ payloadType: 126, clockRate: 8000 });
    expect(offer.audio).toMatchObject({ mid: '0', ssrc: 1111, cname: 'browsercname', direction: 'sendrecv' });
    const pcmu = offer.audio.codecs.find((c) => c.name === 'PCMU')!;
    const producer = producerRtpParameters(offer, pcmu);
    expect(producer).toMatchObject({ mid: '0', encodings: [{ ssrc: 1111 }], codecs: [{ mimeType: 'audio/PCMU', payloadType: 0 }] });
    expect(producer.headerExtensions!.map((e) => e.id).sort()).toEqual([1, 4]);
    expect(consumerRtpCapabilities(pcmu).codecs![0]).toMatchObject({ mimeType: 'audio/PCMU', preferredPayloadType: 0 });
  });

  it('refuses what is not a usable WebRTC offer, saying why (488)', () => {
    const without = (pattern: RegExp) => CHROME_OFFER.split('\r\n').filter((line) => !pattern.test(line)).join('\r\n');
    expect(() => readWebRtcSdp(without(/^a=fingerprint/))).toThrow(/without DTLS fingerprint/);
    expect(() => readWebRtcSdp(without(/^a=ice-(ufrag|pwd)/))).toThrow(/ICE credentials/);
    expect(() => readWebRtcSdp(without(/^a=rtcp-mux/))).toThrow(/rtcp-mux/);
    expect(() => readWebRtcSdp('m=audio')).toThrow(UnsupportedError);
    expect(() => readWebRtcSdp(CHROME_OFFER.replace('UDP/TLS/RTP/SAVPF 111', 'RTP/AVP 111'))).toThrow(/not WebRTC/);
  });

  it('answers ICE-lite as the DTLS server with one BUNDLE group, the chosen codec and port 0 for video', () => {
    const offer = readWebRtcSdp(CHROME_OFFER);
    const codec = offer.audio.codecs.find((c) => c.name === 'PCMU')!;
    const answer = parse(buildWebRtcAnswer({
      offer, codec,
      iceParameters: { usernameFragment: 'ms-ufrag', password: 'ms-password', iceLite: true },
      iceCandidates: [
        { foundation: 'udpcandidate', priority: 1076302079, ip: '192.0.2.5', address: '192.0.2.5', protocol: 'udp', port: 40001, type: 'host' },
        { foundation: 'tcpcandidate', priority: 1076276479, ip: '192.0.2.5', address: '192.0.2.5', protocol: 'tcp', port: 40002, type: 'host', tcpType: 'passive' },
      ],
      dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: '01:02:03' }] },
      sending: { ssrc: 2222, cname: 'conflux' }, sessionId: '7', version: 1,
    }));
    expect(answer.icelite).toBe('ice-lite');
    expect(String(answer.groups![0]!.mids)).toBe('0');
    expect(answer.groups![0]!.type).toBe('BUNDLE');
    const [audio, video] = answer.media;
    expect(audio).toMatchObject({ type: 'audio', port: 40001, protocol: 'UDP/TLS/RTP/SAVPF', payloads: '0 126', setup: 'passive',
      direction: 'sendrecv', rtcpMux: 'rtcp-mux', iceUfrag: 'ms-ufrag', icePwd: 'ms-password' });
    expect(audio!.candidates!.map((c) => `${c.transport}:${c.port}${c.tcptype ? `:${c.tcptype}` : ''}`)).toEqual(['udp:40001', 'tcp:40002:passive']);
    expect(audio!.ssrcs).toEqual([{ id: 2222, attribute: 'cname', value: 'conflux' }]);
    expect(video).toMatchObject({ type: 'video', port: 0 });
    expect([audio!.mid, video!.mid].map(String)).toEqual(['0', '1']);
    expect(answer.fingerprint).toEqual({ type: 'sha-256', hash: '01:02:03' });

    // Re-offered on the same m-lines (the phone holds): our direction, DTLS actpass as an offer says, same mids.
    const reoffer = parse(buildWebRtcAnswer({
      offer, codec, reofferDirection: 'sendonly',
      iceParameters: { usernameFragment: 'ms-ufrag', password: 'ms-password', iceLite: true },
      iceCandidates: [{ foundation: 'udpcandidate', priority: 1076302079, ip: '192.0.2.5', address: '192.0.2.5', protocol: 'udp', port: 40001, type: 'host' }],
      dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: '01:02:03' }] },
      sending: { ssrc: 2222, cname: 'conflux' }, sessionId: '7', version: 2,
    }));
    expect(reoffer.media[0]).toMatchObject({ type: 'audio', setup: 'actpass', direction: 'sendonly', payloads: '0 126' });
    expect(reoffer.media.map((m) => String(m.mid))).toEqual(['0', '1']);
    expect(reoffer.origin!.sessionVersion).toBe(2);
  });

  it('reads a sendrecv video m-line: VP8 and H.264 mode 1 only, the media SSRC of the FID group, and answers it in one BUNDLE', () => {
    const VIDEO_OFFER = CHROME_OFFER.replace(/m=video[\s\S]*$/, [
      'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 45', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
      'a=setup:actpass', 'a=rtcp-mux', 'a=sendrecv', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 goog-remb', 'a=rtcp-fb:96 nack', 'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir', 'a=rtcp-fb:96 bogus thing',
      'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
      'a=rtpmap:102 H264/90000', 'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
      'a=rtpmap:103 H264/90000', 'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      'a=rtpmap:104 rtx/90000', 'a=rtpmap:45 AV1/90000',
      'a=ssrc-group:FID 3333 4444', 'a=ssrc:3333 cname:browsercname', 'a=ssrc:4444 cname:browsercname', '',
    ].join('\r\n'));
    const offer = readWebRtcSdp(VIDEO_OFFER);
    expect(offer.video).toMatchObject({ mid: '1', index: 1, ssrc: 3333, direction: 'sendrecv' });
    expect(offer.video!.codecs.map((c) => `${c.name}/${c.payloadType}`)).toEqual(['VP8/96', 'H264/103']);
    const vp8 = offer.video!.codecs[0]!;
    expect(vp8.feedback.map((fb) => `${fb.type} ${fb.parameter}`.trim())).toEqual(['goog-remb', 'nack', 'nack pli', 'ccm fir']);
    expect(offer.video!.codecs[1]!.parameters).toEqual({ 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' });
    expect(producerVideoRtpParameters(offer.video!, vp8)).toMatchObject({ mid: '1', encodings: [{ ssrc: 3333 }], codecs: [{ mimeType: 'video/VP8', payloadType: 96 }] });
    expect(consumerVideoRtpCapabilities(vp8).codecs![0]).toMatchObject({ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 96 });
    expect(routerVideoCodec(vp8)).toMatchObject({ kind: 'video', preferredPayloadType: 96 });

    const transport = {
      iceParameters: { usernameFragment: 'ms-ufrag', password: 'ms-password', iceLite: true },
      iceCandidates: [{ foundation: 'udpcandidate', priority: 1076302079, ip: '192.0.2.5', address: '192.0.2.5', protocol: 'udp' as const, port: 40001, type: 'host' as const }],
      dtlsParameters: { role: 'auto' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: '01:02:03' }] },
      sessionId: '7', version: 1,
    };
    const codec = offer.audio.codecs[0]!;
    const answer = parse(buildWebRtcAnswer({ ...transport, offer, codec, sending: null, video: { codec: vp8, sending: { ssrc: 5555, cname: 'conflux' } } }));
    expect(String(answer.groups![0]!.mids)).toBe('0 1');
    expect({ ...answer.media[1], payloads: String(answer.media[1]!.payloads) }).toMatchObject({ type: 'video', port: 40001, payloads: '96', setup: 'passive', direction: 'sendrecv' });
    expect(answer.media[1]!.ssrcs).toEqual([{ id: 5555, attribute: 'cname', value: 'conflux' }]);
    expect(answer.media[1]!.rtcpFb!.map((fb) => `${fb.type} ${fb.subtype ?? ''}`.trim())).toEqual(['nack', 'nack pli', 'ccm fir']);
    // Without a video choice the m-line is refused, as before.
    expect(parse(buildWebRtcAnswer({ ...transport, offer, codec, sending: null })).media[1]).toMatchObject({ port: 0 });

    // Our offer with video: two m-lines in one BUNDLE, each with the MID extension, and read back the same.
    const ours = buildWebRtcOffer({ ...transport, codec, telephoneEvent: null, mid: '0', video: { codec: offer.video!.codecs[1]!, mid: '1' } });
    const back = readWebRtcSdp(ours);
    expect(back.video).toMatchObject({ mid: '1', codecs: [{ name: 'H264', payloadType: 103, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }] });
    expect(String(parse(ours).groups![0]!.mids)).toBe('0 1');
  });
});
