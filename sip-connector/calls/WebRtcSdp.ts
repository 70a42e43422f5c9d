import { parse, write, type SessionDescription } from 'sdp-transform';
import { getSupportedRtpCapabilities, type types } from 'mediasoup';
import { UnsupportedError } from '../../server/errors.js';
import type { MediaDirection, PhoneCodec, PhoneCodecName } from './PhoneSdp.js';

/**
 * The WebRTC side of a SIP-WebRTC call: a browser SIP client's SDP (UDP/TLS/RTP/SAVPF, ICE, DTLS
 * fingerprint, rtcp-mux, BUNDLE) read into what a mediasoup WebRtcTransport and its producer need, and
 * our answer written from the transport's ICE and DTLS parameters (mediasoup is ICE-lite, the DTLS
 * server). Audio, and video (VP8, H.264) where the call carries it: other m-lines are answered with port 0.
 */

/** A codec of the browser's audio m-line, in its order. */
export interface WebRtcOfferedCodec extends PhoneCodec {
  /** Its a=rtcp-fb types (`nack`, `transport-cc`), kept for the producer. */
  feedback: string[];
}

export type WebRtcVideoCodecName = 'VP8' | 'H264';

/** A codec of the browser's video m-line, in its order (VP8, or H.264 in packetization mode 1). */
export interface WebRtcVideoCodec {
  name: WebRtcVideoCodecName;
  payloadType: number;
  clockRate: 90_000;
  /** Its fmtp parameters (H.264's profile-level-id, packetization-mode...). */
  parameters: Record<string, string | number>;
  /** Its a=rtcp-fb lines (`nack`, `nack pli`, `ccm fir`, `transport-cc`...). */
  feedback: types.RtcpFeedback[];
}

/** What a description says of one of its streams. */
export interface WebRtcStream {
  mid: string;
  /** Where its m-line stands among the description's m-lines. */
  index: number;
  /** The SSRC the browser sends with, when it says (a=ssrc; the first of an FID group). */
  ssrc: number | null;
  cname: string | null;
  direction: MediaDirection;
  /** One-byte header extensions offered (`urn:ietf:params:rtp-hdrext:sdes:mid`, audio level...). */
  extensions: Array<{ uri: string; id: number }>;
}

/** What a browser's offer says of its audio (and video) stream and its DTLS endpoint. */
export interface WebRtcDescription {
  /** The browser's DTLS role as mediasoup's `connect()` wants it (the remote side's). */
  dtlsParameters: types.DtlsParameters;
  audio: WebRtcStream & {
    codecs: WebRtcOfferedCodec[];
    /** RFC 4733 events on the browser's audio, when offered at 8 kHz. */
    telephoneEvent: { payloadType: number; clockRate: number } | null;
  };
  /** Its first active video stream in a codec we carry, if any. */
  video: (WebRtcStream & { codecs: WebRtcVideoCodec[] }) | null;
  /** Every m-line, for an answer that keeps their order. */
  media: Array<{ type: string; protocol: string; mid: string | null }>;
}

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
/**
 * The MID extension's id in our offers: the id mediasoup's routers give it, since a consumer writes only
 * the extensions whose ids match its router's.
 */
export const MID_EXTENSION_ID = getSupportedRtpCapabilities().headerExtensions
  ?.find((ext) => ext.kind === 'audio' && ext.uri === MID_URI)?.preferredId ?? 1;
const AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
const REGISTERED_CLOCKS: Record<PhoneCodecName, number> = { PCMU: 8000, PCMA: 8000, G722: 8000, opus: 48_000 };
export const ANSWER_DIRECTION: Record<MediaDirection, MediaDirection> = {
  sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive',
};

function sdpError(message: string): UnsupportedError {
  return new UnsupportedError(`SDP: ${message}`);
}

/** Whether an offer is a WebRTC one (DTLS-SRTP over ICE), as opposed to a phone's RTP/AVP or RTP/SAVP. */
export function isWebRtcSdp(sdp: string): boolean {
  return /^m=audio [0-9]+ (UDP\/TLS\/RTP\/SAVPF|TCP\/TLS\/RTP\/SAVPF|RTP\/SAVPF)\b/m.test(sdp);
}

function codecName(name: string | number): PhoneCodecName | 'telephone-event' | null {
  // sdp-transform turns any all-digit token into a number: a hostile body may put one anywhere.
  const lower = String(name).toLowerCase();
  if (lower === 'pcmu') return 'PCMU';
  if (lower === 'pcma') return 'PCMA';
  if (lower === 'g722') return 'G722';
  if (lower === 'opus') return 'opus';
  if (lower === 'telephone-event') return 'telephone-event';
  return null;
}

const STATIC: Record<number, PhoneCodecName> = { 0: 'PCMU', 8: 'PCMA', 9: 'G722' };

function offeredCodecs(media: SessionDescription['media'][number]): { codecs: WebRtcOfferedCodec[]; telephoneEvent: WebRtcDescription['audio']['telephoneEvent'] } {
  const payloads = String(media.payloads ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const codecs: WebRtcOfferedCodec[] = [];
  let telephoneEvent: WebRtcDescription['audio']['telephoneEvent'] = null;
  for (const payloadType of payloads) {
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) continue;
    const rtp = media.rtp.find((entry) => entry.payload === payloadType);
    const name = rtp ? codecName(rtp.codec) : STATIC[payloadType] ?? null;
    if (!name) continue;
    const clockRate = rtp?.rate ?? 8000;
    if (name === 'telephone-event') {
      if (clockRate === 8000 && !telephoneEvent) telephoneEvent = { payloadType, clockRate };
      continue;
    }
    // Only the registered clock of each codec is taken (RFC 3551, RFC 7587).
    if (clockRate !== REGISTERED_CLOCKS[name]) continue;
    const config = media.fmtp.find((entry) => entry.payload === payloadType)?.config;
    const fmtp = config === undefined ? undefined : String(config);
    codecs.push({
      name, payloadType, clockRate, channels: rtp?.encoding ? Number(rtp.encoding) : 1, ...(fmtp ? { fmtp } : {}),
      feedback: (media.rtcpFb ?? []).filter((fb) => Number(fb.payload) === payloadType).map((fb) => fb.type),
    });
  }
  return { codecs, telephoneEvent };
}

function cnameOf(ssrcs: SessionDescription['media'][number]['ssrcs']): string | null {
  const value = (ssrcs ?? []).find((line) => line.attribute === 'cname')?.value;
  return value === undefined ? null : String(value);
}

const VIDEO_FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc']);

function fmtpParameters(config: string | undefined): Record<string, string | number> {
  const parameters: Record<string, string | number> = {};
  for (const part of (config ?? '').split(';')) {
    const [key, value] = part.split('=').map((token) => token.trim());
    if (!key || value === undefined || !/^[A-Za-z0-9-]{1,32}$/.test(key) || value.length > 64) continue;
    parameters[key] = /^[0-9]{1,9}$/.test(value) ? Number(value) : value;
  }
  return parameters;
}

function offeredVideoCodecs(media: SessionDescription['media'][number]): WebRtcVideoCodec[] {
  const payloads = String(media.payloads ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const codecs: WebRtcVideoCodec[] = [];
  for (const payloadType of payloads) {
    if (!Number.isInteger(payloadType) || payloadType < 96 || payloadType > 127) continue;
    const rtp = media.rtp.find((entry) => entry.payload === payloadType);
    const name = String(rtp?.codec ?? '').toUpperCase();
    if ((name !== 'VP8' && name !== 'H264') || rtp?.rate !== 90_000) continue;
    const config = media.fmtp.find((entry) => entry.payload === payloadType)?.config;
    const parameters = fmtpParameters(config === undefined ? undefined : String(config));
    // H.264 only in packetization mode 1 (non-interleaved), as browsers and mediasoup carry it.
    if (name === 'H264' && (parameters['packetization-mode'] !== 1 || typeof parameters['profile-level-id'] !== 'string')) continue;
    const feedback = (media.rtcpFb ?? []).filter((fb) => Number(fb.payload) === payloadType)
      .map((fb) => ({ type: String(fb.type), parameter: fb.subtype === undefined ? '' : String(fb.subtype) }))
      .filter((fb) => VIDEO_FEEDBACK.has(fb.parameter ? `${fb.type} ${fb.parameter}` : fb.type));
    codecs.push({ name, payloadType, clockRate: 90_000, parameters, feedback });
  }
  return codecs;
}

/** The common attributes of m-line `media` at `index`. */
function streamOf(session: SessionDescription, media: SessionDescription['media'][number], index: number): WebRtcStream {
  const ssrcs = media.ssrcs ?? [];
  // A video m-line names its RTX SSRC too: the media SSRC is the first of the FID group.
  const fid = (media.ssrcGroups ?? []).find((group) => group.semantics === 'FID');
  const first = fid ? Number(String(fid.ssrcs).split(' ')[0]) : undefined;
  const ssrcLine = ssrcs.find((line) => line.attribute === 'cname') ?? ssrcs[0];
  const ssrc = first !== undefined && Number.isInteger(first) ? first : ssrcLine ? Number(ssrcLine.id) : null;
  return {
    mid: media.mid !== undefined ? String(media.mid) : String(index),
    index,
    ssrc: ssrc !== null && Number.isInteger(ssrc) && ssrc >= 0 && ssrc <= 0xffffffff ? ssrc : null,
    cname: cnameOf(ssrcs),
    direction: (media.direction ?? session.direction ?? 'sendrecv') as MediaDirection,
    extensions: (media.ext ?? []).filter((ext) => ext.value >= 1 && ext.value <= 14).map((ext) => ({ uri: String(ext.uri), id: ext.value })),
  };
}

/**
 * Reads a browser's offer, or its answer to ours (the same attributes say the same things); a 488 (with the
 * reason) for anything that is not a usable WebRTC audio description.
 */
export function readWebRtcSdp(sdp: string): WebRtcDescription {
  if (typeof sdp !== 'string' || !/^v=0\r?\n/.test(sdp)) throw sdpError('not a session description (no v=0)');
  let session: SessionDescription;
  try {
    session = parse(sdp);
  } catch {
    throw sdpError('unparsable');
  }
  const index = session.media.findIndex((m) => m.type === 'audio' && m.port !== 0);
  const audio = session.media[index];
  if (!audio) throw sdpError('no active audio stream');
  if (!/SAVPF$/.test(audio.protocol)) throw sdpError(`media protocol ${audio.protocol} is not WebRTC (UDP/TLS/RTP/SAVPF)`);
  const fingerprint = audio.fingerprint ?? session.fingerprint;
  if (!fingerprint) throw sdpError('WebRTC offer without DTLS fingerprint');
  const algorithm = String(fingerprint.type).toLowerCase();
  const hash = String(fingerprint.hash);
  if (!['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'].includes(algorithm) || !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+$/.test(hash)) {
    throw sdpError('unusable DTLS fingerprint');
  }
  if (!(audio.iceUfrag ?? session.iceUfrag) || !(audio.icePwd ?? session.icePwd)) throw sdpError('WebRTC offer without ICE credentials');
  if (!audio.rtcpMux) throw sdpError('WebRTC offer without rtcp-mux');
  const setup = audio.setup ?? session.setup ?? 'actpass';
  // We answer as the DTLS server unless the browser insists on being one; mediasoup takes the remote role.
  const remoteRole: types.DtlsRole = setup === 'passive' ? 'server' : 'client';
  const { codecs, telephoneEvent } = offeredCodecs(audio);
  // Video rides the audio's transport (BUNDLE): only an active SAVPF m-line with a codec we carry.
  const videoIndex = session.media.findIndex((m) => m.type === 'video' && m.port !== 0 && /SAVPF$/.test(m.protocol) && offeredVideoCodecs(m).length > 0);
  const video = session.media[videoIndex];
  return {
    dtlsParameters: { role: remoteRole, fingerprints: [{ algorithm: algorithm as types.FingerprintAlgorithm, value: hash.toUpperCase() }] },
    audio: { ...streamOf(session, audio, index), codecs, telephoneEvent },
    video: video ? { ...streamOf(session, video, videoIndex), codecs: offeredVideoCodecs(video) } : null,
    media: session.media.map((m) => ({ type: m.type, protocol: m.protocol, mid: m.mid !== undefined ? String(m.mid) : null })),
  };
}

/** The browser's audio as a mediasoup producer sees it, sending `codec`. */
export function producerRtpParameters(offer: WebRtcDescription, codec: WebRtcOfferedCodec): types.RtpParameters {
  const { audio } = offer;
  return {
    mid: audio.mid,
    codecs: [{
      mimeType: `audio/${codec.name}`, payloadType: codec.payloadType, clockRate: codec.clockRate,
      ...(codec.name === 'opus' ? { channels: 2 } : {}),
      rtcpFeedback: codec.feedback.filter((type) => type === 'nack' || type === 'transport-cc').map((type) => ({ type })),
    }],
    headerExtensions: audio.extensions.filter((ext) => ext.uri === MID_URI || ext.uri === AUDIO_LEVEL)
      .map((ext) => ({ uri: ext.uri as types.RtpHeaderExtensionUri, id: ext.id })),
    encodings: audio.ssrc !== null ? [{ ssrc: audio.ssrc }] : [{}],
    rtcp: { ...(audio.cname ? { cname: audio.cname } : {}), reducedSize: true },
  };
}

const VIDEO_HEADER_EXTENSIONS = new Set([MID_URI]);

/** The browser's video as a mediasoup producer sees it, sending `codec`. */
export function producerVideoRtpParameters(video: NonNullable<WebRtcDescription['video']>, codec: WebRtcVideoCodec): types.RtpParameters {
  return {
    mid: video.mid,
    codecs: [{ mimeType: `video/${codec.name}`, payloadType: codec.payloadType, clockRate: codec.clockRate, parameters: codec.parameters, rtcpFeedback: codec.feedback }],
    headerExtensions: video.extensions.filter((ext) => VIDEO_HEADER_EXTENSIONS.has(ext.uri)).map((ext) => ({ uri: ext.uri as types.RtpHeaderExtensionUri, id: ext.id })),
    encodings: video.ssrc !== null ? [{ ssrc: video.ssrc }] : [{}],
    rtcp: { ...(video.cname ? { cname: video.cname } : {}), reducedSize: true },
  };
}

/** The feedback a browser receiving our video answers with: losses (NACK), key frame requests (PLI, FIR). */
const VIDEO_CONSUMER_FEEDBACK: types.RtcpFeedback[] = [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

/** What the browser can receive of video, for the consumer that sends it the other party's in `codec` (no RTX). */
export function consumerVideoRtpCapabilities(codec: WebRtcVideoCodec, midExtensionId?: number): types.RtpCapabilities {
  return {
    codecs: [{
      kind: 'video', mimeType: `video/${codec.name}`, preferredPayloadType: codec.payloadType, clockRate: codec.clockRate,
      parameters: codec.parameters, rtcpFeedback: VIDEO_CONSUMER_FEEDBACK,
    }],
    headerExtensions: midExtensionId !== undefined
      ? [{ kind: 'video', uri: MID_URI, preferredId: midExtensionId, preferredEncrypt: false, direction: 'sendrecv' }] : [],
  };
}

/** The router codec that carries `codec` as the browser numbers it (mediasoup sends consumers the router's payload types). */
export function routerVideoCodec(codec: WebRtcVideoCodec): types.RouterRtpCodecCapability {
  return { kind: 'video', mimeType: `video/${codec.name}`, clockRate: codec.clockRate, preferredPayloadType: codec.payloadType, parameters: codec.parameters };
}

/**
 * What the browser can receive, for the consumer that sends it the other party's audio in `codec`; with
 * `midExtensionId`, packets carry the MID the browser routes them by.
 */
export function consumerRtpCapabilities(codec: PhoneCodec, midExtensionId?: number): types.RtpCapabilities {
  return {
    codecs: [{
      kind: 'audio', mimeType: `audio/${codec.name}`, preferredPayloadType: codec.payloadType, clockRate: codec.clockRate,
      ...(codec.name === 'opus' ? { channels: 2 } : {}), rtcpFeedback: [],
    }],
    headerExtensions: midExtensionId !== undefined
      ? [{ kind: 'audio', uri: MID_URI, preferredId: midExtensionId, preferredEncrypt: false, direction: 'sendrecv' }] : [],
  };
}

/** Our transport's ICE and DTLS parameters, as an offer or an answer gives them. */
interface TransportDescription {
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
  sessionId: string;
  version: number;
}

function sessionOf(input: TransportDescription, mids: string): SessionDescription {
  const fingerprint = input.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? input.dtlsParameters.fingerprints[0]!;
  return {
    version: 0,
    origin: { username: 'conflux', sessionId: input.sessionId, sessionVersion: input.version, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
    media: [],
  };
}

function transportAttributes(input: TransportDescription) {
  const udp = input.iceCandidates.find((c) => c.protocol === 'udp') ?? input.iceCandidates[0]!;
  return {
    port: udp.port,
    connection: { version: 4, ip: udp.address },
    iceUfrag: input.iceParameters.usernameFragment,
    icePwd: input.iceParameters.password,
    candidates: input.iceCandidates.map((c) => ({
      foundation: c.foundation, component: 1, transport: c.protocol, priority: c.priority, ip: c.address, port: c.port, type: c.type,
      ...(c.tcpType ? { tcptype: c.tcpType } : {}),
    })),
    endOfCandidates: 'end-of-candidates',
    rtcpMux: 'rtcp-mux',
  };
}

/** What we offer a browser we call: one audio m-line in `codec` (the other party's), sendrecv. */
export interface WebRtcOfferInput extends TransportDescription {
  codec: PhoneCodec;
  telephoneEvent: { payloadType: number; clockRate: number } | null;
  mid: string;
  /** Ours; sendrecv unless re-offering a hold. */
  direction?: MediaDirection;
  /** A video m-line too, in the other party's codec. */
  video?: { codec: WebRtcVideoCodec; mid: string };
}

function fmtpLine(parameters: Record<string, string | number>): string {
  return Object.entries(parameters).map(([key, value]) => `${key}=${value}`).join(';');
}

/** The codec lines of a video m-line in `codec`, with the feedback we answer to. */
function videoCodecLines(codec: WebRtcVideoCodec) {
  return {
    payloads: String(codec.payloadType),
    rtp: [{ payload: codec.payloadType, codec: codec.name, rate: codec.clockRate }],
    fmtp: Object.keys(codec.parameters).length > 0 ? [{ payload: codec.payloadType, config: fmtpLine(codec.parameters) }] : [],
    rtcpFb: VIDEO_CONSUMER_FEEDBACK.map((fb) => ({ payload: codec.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) })),
  };
}

/**
 * Our offer to a browser SIP client: ICE-lite, DTLS actpass, one BUNDLE group, the MID header extension
 * (the browser routes our stream by it: its SSRC is not known before the answer).
 */
export function buildWebRtcOffer(input: WebRtcOfferInput): string {
  const { codec, telephoneEvent, video } = input;
  const session = sessionOf(input, video ? `${input.mid} ${video.mid}` : input.mid);
  session.media.push({
    type: 'audio',
    protocol: 'UDP/TLS/RTP/SAVPF',
    payloads: [codec.payloadType, ...(telephoneEvent ? [telephoneEvent.payloadType] : [])].join(' '),
    mid: input.mid,
    ...transportAttributes(input),
    setup: 'actpass',
    direction: input.direction ?? 'sendrecv',
    ext: [{ value: MID_EXTENSION_ID, uri: MID_URI }],
    rtp: [
      { payload: codec.payloadType, codec: codec.name, rate: codec.clockRate, ...(codec.name === 'opus' ? { encoding: 2 } : {}) },
      ...(telephoneEvent ? [{ payload: telephoneEvent.payloadType, codec: 'telephone-event', rate: telephoneEvent.clockRate }] : []),
    ],
    fmtp: [
      ...(codec.fmtp ? [{ payload: codec.payloadType, config: codec.fmtp }] : []),
      ...(telephoneEvent ? [{ payload: telephoneEvent.payloadType, config: '0-16' }] : []),
    ],
  } as SessionDescription['media'][number]);
  if (video) {
    session.media.push({
      type: 'video', protocol: 'UDP/TLS/RTP/SAVPF', mid: video.mid, ...transportAttributes(input), setup: 'actpass',
      direction: input.direction ?? 'sendrecv', ext: [{ value: MID_EXTENSION_ID, uri: MID_URI }], ...videoCodecLines(video.codec),
    } as SessionDescription['media'][number]);
  }
  return write(session);
}

/** Our side of the WebRTC leg: the transport's ICE and DTLS parameters and the stream we send. */
export interface WebRtcAnswerInput extends TransportDescription {
  offer: WebRtcDescription;
  codec: WebRtcOfferedCodec;
  /** The SSRC and CNAME of what we send (the consumer), if we send. */
  sending: { ssrc: number; cname: string } | null;
  /** The offer's video m-line answered in `codec` (else refused with port 0), with what we send on it. */
  video?: { codec: WebRtcVideoCodec; sending: { ssrc: number; cname: string } | null };
  /**
   * Present: not an answer but our re-offer on the browser's own m-lines (the other side holds or resumes),
   * with this direction and DTLS actpass, as an offer must say (the browser keeps its role).
   */
  reofferDirection?: MediaDirection;
}

/** Our answer: ICE-lite, one BUNDLE group of the audio m-line, the chosen codec, port 0 for anything else. */
export function buildWebRtcAnswer(input: WebRtcAnswerInput): string {
  const { offer, codec } = input;
  const direction = input.reofferDirection ?? ANSWER_DIRECTION[offer.audio.direction];
  const telephoneEvent = offer.audio.telephoneEvent;
  const video = input.video && offer.video ? { ...input.video, stream: offer.video } : null;
  const session = sessionOf(input, video ? `${offer.audio.mid} ${video.stream.mid}` : offer.audio.mid);
  const setup = input.reofferDirection !== undefined ? 'actpass' : offer.dtlsParameters.role === 'server' ? 'active' : 'passive';
  session.media = offer.media.map((m, index) => {
    if (video && index === video.stream.index) {
      return {
        type: 'video', protocol: m.protocol, mid: video.stream.mid, ...transportAttributes(input), setup,
        direction: input.reofferDirection ?? ANSWER_DIRECTION[video.stream.direction], ...videoCodecLines(video.codec),
        ...(video.sending ? { ssrcs: [{ id: video.sending.ssrc, attribute: 'cname', value: video.sending.cname }] } : {}),
      } as SessionDescription['media'][number];
    }
    if (index !== offer.audio.index) {
      return { type: m.type, port: 0, protocol: m.protocol, payloads: m.type === 'application' ? 'webrtc-datachannel' : '0',
        ...(m.mid !== null ? { mid: m.mid } : {}), rtp: [], fmtp: [], direction: 'inactive' as const };
    }
    return {
      type: 'audio',
      protocol: m.protocol,
      payloads: [codec.payloadType, ...(telephoneEvent ? [telephoneEvent.payloadType] : [])].join(' '),
      mid: offer.audio.mid,
      ...transportAttributes(input),
      setup,
      direction,
      rtp: [
        { payload: codec.payloadType, codec: codec.name, rate: codec.clockRate, ...(codec.name === 'opus' ? { encoding: 2 } : {}) },
        ...(telephoneEvent ? [{ payload: telephoneEvent.payloadType, codec: 'telephone-event', rate: 8000 }] : []),
      ],
      fmtp: [
        ...(codec.fmtp ? [{ payload: codec.payloadType, config: codec.fmtp }] : []),
        ...(telephoneEvent ? [{ payload: telephoneEvent.payloadType, config: '0-16' }] : []),
      ],
      // Kept while we do not send (hold): a browser that sees our SSRC go from the answer drops its receive
      // stream, and ignores our packets on the same SSRC after the resume.
      ...(input.sending ? { ssrcs: [{ id: input.sending.ssrc, attribute: 'cname', value: input.sending.cname }] } : {}),
    } as SessionDescription['media'][number];
  });
  return write(session);
}
