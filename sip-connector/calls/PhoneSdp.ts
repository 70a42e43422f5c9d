import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { parse, write, type MediaAttributes, type SessionDescription } from 'sdp-transform';
import { UnsupportedError } from '../../server/errors.js';
import { SRTP_KEY_MATERIAL_LENGTH, SRTP_SUITES, type SrtpSuite } from '../media/SrtpContext.js';

/** Audio codecs a phone leg can use, in the trunk's order of preference. */
export type PhoneCodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
/** A trunk's media policy: plain RTP/AVP only, or SDES-SRTP (RTP/SAVP with a=crypto) only. */
export type MediaEncryption = 'none' | 'sdes';

/** SDES keys of a call (base64 master key || salt): the phone's protects what it sends, ours what we send. */
export interface NegotiatedSrtp {
  suite: SrtpSuite;
  /** The a=crypto tag both sides agreed on. */
  tag: number;
  inboundKey: string;
  outboundKey: string;
}

/** One a=crypto line of our offer: its key is what we send with if the answer picks its tag. */
export interface OfferedCrypto {
  tag: number;
  suite: SrtpSuite;
  key: string;
}

export interface PhoneCodec {
  name: PhoneCodecName;
  payloadType: number;
  /** RTP clock rate as written in SDP. */
  clockRate: number;
  channels: number;
  fmtp?: string;
}

/** What both sides agreed for the audio stream of a call. */
export interface NegotiatedAudio {
  codec: PhoneCodec;
  /** RFC 4733 events, when both sides do them. */
  telephoneEvent: { payloadType: number; clockRate: number } | null;
  ptime: number;
  /** Where the phone says to send RTP; with symmetric RTP the first packet's source wins. */
  remote: { address: string; port: number; rtcpPort: number };
  /** Our direction in the answer/offer: whether we send and receive. */
  localDirection: MediaDirection;
  /** SDES-SRTP keys, or null for plain RTP. */
  srtp: NegotiatedSrtp | null;
}

export interface LocalMedia {
  address: string;
  port: number;
}

const STATIC: Record<number, PhoneCodec> = {
  0: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
  // G.722 samples at 16 kHz but its RTP clock is 8000 Hz (RFC 3551 §4.5.2).
  9: { name: 'G722', payloadType: 9, clockRate: 8000, channels: 1 },
};
/** RTP clock rates each codec is registered with (RFC 3551 §4.5, RFC 7587 §7, RFC 4733 §2.5.1). */
const REGISTERED_CLOCKS: Record<string, readonly number[]> = {
  PCMU: [8000], PCMA: [8000], G722: [8000], opus: [48_000], 'telephone-event': [8000, 16_000, 48_000],
};
const DEFAULT_DYNAMIC: Record<'opus' | 'telephone-event', number> = { opus: 111, 'telephone-event': 101 };

/** The mirror of the other side's direction: hold (sendonly) is answered with recvonly, and so on. */
const ANSWER_DIRECTION: Record<MediaDirection, MediaDirection> = {
  sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive',
};

function sdpError(message: string): UnsupportedError {
  return new UnsupportedError(`SDP: ${message}`);
}

function parseSdp(text: string): SessionDescription {
  if (typeof text !== 'string' || !/^v=0\r?\n/.test(text)) throw sdpError('not a session description (no v=0)');
  try {
    return parse(text);
  } catch {
    throw sdpError('unparsable');
  }
}

/** The codecs an audio m-line offers, in its order, with static types filled in. */
function offeredCodecs(media: SessionDescription['media'][number]): PhoneCodec[] {
  const payloads = String(media.payloads ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return payloads.flatMap((payloadType): PhoneCodec[] => {
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) return [];
    const rtp = media.rtp.find((entry) => entry.payload === payloadType);
    // sdp-transform turns any all-digit token into a number: a hostile body may put one anywhere.
    const config = media.fmtp.find((entry) => entry.payload === payloadType)?.config;
    const fmtp = config === undefined ? undefined : String(config);
    if (!rtp) return STATIC[payloadType] ? [STATIC[payloadType]] : [];
    const name = String(rtp.codec).toLowerCase();
    const known = name === 'pcmu' ? 'PCMU' : name === 'pcma' ? 'PCMA' : name === 'g722' ? 'G722'
      : name === 'opus' ? 'opus' : name === 'telephone-event' ? 'telephone-event' : null;
    if (!known) return [];
    // Only the registered clock of each codec is taken (a G722/16000 or PCMU/0 line would make timestamps run
    // at a rate we cannot know): a payload type with another is not offered at all, so it ends in a 488.
    const rate = rtp.rate ?? 8000;
    if (!(REGISTERED_CLOCKS[known] ?? []).includes(rate)) return [];
    return [{
      name: known as PhoneCodecName, payloadType, clockRate: rtp.rate ?? 8000,
      channels: rtp.encoding ? Number(rtp.encoding) : 1, ...(fmtp ? { fmtp } : {}),
    }];
  });
}

function directionOf(media: MediaAttributes, session: SessionDescription, address: string): MediaDirection {
  const direction = (media.direction ?? session.direction ?? 'sendrecv') as MediaDirection;
  // RFC 2543-style hold: a zero connection address means "do not send to me".
  if (address === '0.0.0.0' && direction === 'sendrecv') return 'sendonly';
  return direction;
}

const PROTOCOLS: Record<MediaEncryption, readonly string[]> = { none: ['RTP/AVP', 'RTP/AVPF'], sdes: ['RTP/SAVP', 'RTP/SAVPF'] };

function audioLine(session: SessionDescription, encryption: MediaEncryption) {
  const audio = session.media.find((media) => media.type === 'audio' && media.port !== 0);
  if (!audio) throw sdpError('no active audio stream');
  if (!PROTOCOLS[encryption].includes(audio.protocol)) {
    throw sdpError(`media protocol ${audio.protocol} is not accepted here (${PROTOCOLS[encryption][0]} only)`);
  }
  const ip = audio.connection?.ip ?? session.connection?.ip;
  const address = ip === undefined ? undefined : String(ip);
  if (!address || isIP(address) === 0) throw sdpError('no usable connection address');
  if (!Number.isInteger(audio.port) || audio.port < 1 || audio.port > 65535) throw sdpError('bad media port');
  return { audio, address };
}

function describeRemote(session: SessionDescription, encryption: MediaEncryption, chosen: PhoneCodec, offered: PhoneCodec[]):
  Omit<NegotiatedAudio, 'localDirection' | 'srtp'> {
  const { audio, address } = audioLine(session, encryption);
  const event = offered.find((codec) => (codec.name as string) === 'telephone-event' && codec.clockRate === chosen.clockRate)
    ?? offered.find((codec) => (codec.name as string) === 'telephone-event');
  const ptime = Number(audio.ptime ?? 20);
  return {
    codec: chosen,
    telephoneEvent: event ? { payloadType: event.payloadType, clockRate: event.clockRate } : null,
    ptime: [10, 20, 30, 40, 60].includes(ptime) ? ptime : 20,
    remote: { address, port: audio.port, rtcpPort: audio.rtcp?.port ?? audio.port + 1 },
  };
}

/** A usable a=crypto line: a suite we do, one inline key of the right size, no MKI, no session parameters. */
interface CryptoLine {
  tag: number;
  suite: SrtpSuite;
  key: string;
}

/** Fewest packets a key must be good for: keys are never renegotiated mid-call (2^20 packets ≈ 5.8 h at 20 ms). */
const MIN_KEY_LIFETIME = 2 ** 20;

/**
 * The a=crypto lines of the m-section at `mediaIndex`, read from the text: the parser keeps only the first
 * session parameter of a line, and one it dropped (KDR, UNENCRYPTED_SRTP...) would silently change the keys.
 * Lines we cannot honour are left out; RFC 4568 lets the answerer pick any line it supports.
 */
function cryptoLines(text: string, mediaIndex: number): CryptoLine[] {
  const sections = text.split(/\r?\n(?=m=)/);
  const section = sections[mediaIndex + 1] ?? '';
  return section.split(/\r?\n/).flatMap((line): CryptoLine[] => {
    const match = /^a=crypto:(\d{1,9}) +(\S+) +(\S+)(.*)$/.exec(line.trim());
    if (!match) return [];
    const [, tag, suite, keyParams, sessionParams] = match;
    if (!SRTP_SUITES.includes(suite as SrtpSuite) || sessionParams!.trim() !== '') return [];
    // A single key only: several (";"-separated, told apart by MKI) would need MKI support.
    const key = /^inline:([A-Za-z0-9+/=]+)(?:\|([0-9^]+))?$/.exec(keyParams!);
    if (!key) return [];
    const [, base64, lifetime] = key;
    if (Buffer.from(base64!, 'base64').length !== SRTP_KEY_MATERIAL_LENGTH) return [];
    if (lifetime !== undefined && keyLifetime(lifetime) < MIN_KEY_LIFETIME) return [];
    return [{ tag: Number(tag), suite: suite as SrtpSuite, key: base64! }];
  });
}

/** A key lifetime as written: decimal or 2^n; NaN when it is neither. */
function keyLifetime(text: string): number {
  const power = /^2\^(\d{1,2})$/.exec(text);
  if (power) return 2 ** Number(power[1]);
  return /^\d{1,20}$/.test(text) ? Number(text) : Number.NaN;
}

/** Fresh SDES key material for one direction: 16-byte master key and 14-byte salt, base64. */
function newKey(): string {
  return randomBytes(SRTP_KEY_MATERIAL_LENGTH).toString('base64');
}

function localSdp(local: LocalMedia, sessionId: string, version: number, codecs: PhoneCodec[],
  event: { payloadType: number; clockRate: number } | null, ptime: number, direction: MediaDirection,
  crypto: readonly CryptoLine[] = []): string {
  const family = isIP(local.address) === 6 ? 6 : 4;
  const all = event ? [...codecs, { name: 'telephone-event', payloadType: event.payloadType, clockRate: event.clockRate, channels: 1 }] : codecs;
  const session: SessionDescription = {
    version: 0,
    origin: { username: 'conflux', sessionId, sessionVersion: version, netType: 'IN', ipVer: family, address: local.address },
    name: 'conflux',
    connection: { version: family, ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [{
      type: 'audio', port: local.port, protocol: crypto.length > 0 ? 'RTP/SAVP' : 'RTP/AVP', payloads: all.map((codec) => codec.payloadType).join(' '),
      rtp: all.map((codec) => ({
        payload: codec.payloadType, codec: codec.name, rate: codec.clockRate,
        ...(codec.channels > 1 ? { encoding: codec.channels } : {}),
      })),
      fmtp: [
        ...codecs.filter((codec) => codec.fmtp).map((codec) => ({ payload: codec.payloadType, config: codec.fmtp! })),
        ...(event ? [{ payload: event.payloadType, config: '0-16' }] : []),
      ],
      ptime,
      direction,
      ...(crypto.length > 0 ? { crypto: crypto.map((line) => ({ id: line.tag, suite: line.suite, config: `inline:${line.key}` })) } : {}),
    }],
  };
  return write(session);
}

export interface AnswerResult {
  answerSdp: string;
  negotiated: NegotiatedAudio;
}

/**
 * Picks from a phone's offer: the first of our codecs it offers and, for an SDES trunk, the first a=crypto
 * line we can do, answered with a fresh key of ours. 488 (UnsupportedError) when nothing fits, including
 * the wrong protocol for the trunk's encryption (RTP/AVP to an SDES trunk, RTP/SAVP to a plain one).
 */
/** The payload type an offer gives Opus on its audio line, if it offers Opus (null otherwise or when unreadable). */
export function offeredOpusPayloadType(offerSdp: string): number | null {
  try {
    const audio = parseSdp(offerSdp).media.find((media) => media.type === 'audio');
    return (audio ? offeredCodecs(audio) : []).find((codec) => codec.name === 'opus')?.payloadType ?? null;
  } catch {
    return null;
  }
}

export function negotiateOffer(offerSdp: string, preferred: readonly PhoneCodecName[], encryption: MediaEncryption = 'none'): NegotiatedAudio {
  const session = parseSdp(offerSdp);
  const { audio, address } = audioLine(session, encryption);
  const offered = offeredCodecs(audio);
  const chosen = preferred.map((name) => offered.find((codec) => codec.name === name)).find(Boolean);
  if (!chosen) {
    throw sdpError(`no common audio codec (offered ${offered.map((c) => c.name).join(', ') || 'none'}; supported ${preferred.join(', ')})`);
  }
  let srtp: NegotiatedSrtp | null = null;
  if (encryption === 'sdes') {
    const crypto = cryptoLines(offerSdp, session.media.indexOf(audio))[0];
    if (!crypto) throw sdpError(`no usable a=crypto line (supported: ${SRTP_SUITES.join(', ')}, one inline key, no MKI or session parameters)`);
    srtp = { suite: crypto.suite, tag: crypto.tag, inboundKey: crypto.key, outboundKey: newKey() };
  }
  const remote = describeRemote(session, encryption, chosen, offered);
  const codec = chosen.name === 'opus' ? { ...chosen, fmtp: 'minptime=10;useinbandfec=1' } : chosen;
  return { ...remote, codec, localDirection: ANSWER_DIRECTION[directionOf(audio, session, address)], srtp };
}

/** Our answer to a negotiated offer, with the RTP address we receive on (and our SDES key, if any). */
export function buildAnswer(negotiated: NegotiatedAudio, local: LocalMedia, sessionId: string, version = 1): string {
  const { srtp } = negotiated;
  return localSdp(local, sessionId, version, [negotiated.codec], negotiated.telephoneEvent, negotiated.ptime,
    negotiated.localDirection, srtp ? [{ tag: srtp.tag, suite: srtp.suite, key: srtp.outboundKey }] : []);
}

/**
 * A re-offer on an established call: its negotiated codec and keys, with `direction` as ours (a B2BUA
 * carrying the other side's hold: `sendonly` while it holds, `sendrecv` on resume).
 */
export function buildReoffer(negotiated: NegotiatedAudio, local: LocalMedia, sessionId: string, version: number, direction: MediaDirection): string {
  const { srtp } = negotiated;
  return localSdp(local, sessionId, version, [negotiated.codec], negotiated.telephoneEvent, negotiated.ptime, direction,
    srtp ? [{ tag: srtp.tag, suite: srtp.suite, key: srtp.outboundKey }] : []);
}

/** Negotiates and answers in one step. */
export function answerOffer(offerSdp: string, preferred: readonly PhoneCodecName[], local: LocalMedia, sessionId: string, version = 1,
  encryption: MediaEncryption = 'none'): AnswerResult {
  const negotiated = negotiateOffer(offerSdp, preferred, encryption);
  return { answerSdp: buildAnswer(negotiated, local, sessionId, version), negotiated };
}

/** The a=crypto lines of an SDES offer: both suites, strongest tag first, each with a fresh key. */
export function newOfferCrypto(): OfferedCrypto[] {
  return SRTP_SUITES.map((suite, i) => ({ tag: i + 1, suite, key: newKey() }));
}

/**
 * Our offer for dial-out: the trunk's codecs in order, plus telephone-event; RTP/SAVP with `crypto` as
 * a=crypto lines when given (an SDES trunk), RTP/AVP otherwise.
 */
export function createOffer(preferred: readonly PhoneCodecName[], local: LocalMedia, sessionId: string, version = 1,
  crypto: readonly OfferedCrypto[] = []): string {
  const codecs = preferred.map((name): PhoneCodec => {
    if (name === 'opus') return { name, payloadType: DEFAULT_DYNAMIC.opus, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
    return Object.values(STATIC).find((codec) => codec.name === name)!;
  });
  return localSdp(local, sessionId, version, codecs, { payloadType: DEFAULT_DYNAMIC['telephone-event'], clockRate: 8000 }, 20, 'sendrecv',
    crypto);
}

/**
 * Reads the phone's answer to our offer; 488 when it picked nothing we offered. With `offeredCrypto` (an
 * SDES offer) the answer must be RTP/SAVP and accept one of our a=crypto lines, tag and suite alike.
 */
export function readAnswer(answerSdp: string, preferred: readonly PhoneCodecName[], offeredCrypto: readonly OfferedCrypto[] = []): NegotiatedAudio {
  const session = parseSdp(answerSdp);
  const encryption: MediaEncryption = offeredCrypto.length > 0 ? 'sdes' : 'none';
  const { audio, address } = audioLine(session, encryption);
  const offered = offeredCodecs(audio);
  const chosen = offered.find((codec) => preferred.includes(codec.name));
  if (!chosen) throw sdpError('the answer holds none of the offered codecs');
  let srtp: NegotiatedSrtp | null = null;
  if (encryption === 'sdes') {
    const answered = cryptoLines(answerSdp, session.media.indexOf(audio));
    const ours = offeredCrypto.find((line) => answered.some((theirs) => theirs.tag === line.tag && theirs.suite === line.suite));
    const theirs = answered.find((line) => line.tag === ours?.tag);
    if (!ours || !theirs) throw sdpError('the answer accepts none of the offered a=crypto lines');
    srtp = { suite: ours.suite, tag: ours.tag, inboundKey: theirs.key, outboundKey: ours.key };
  }
  const remote = describeRemote(session, encryption, chosen, offered);
  return { ...remote, localDirection: ANSWER_DIRECTION[directionOf(audio, session, address)], srtp };
}
