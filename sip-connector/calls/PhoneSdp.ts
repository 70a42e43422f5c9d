import { isIP } from 'node:net';
import { parse, write, type MediaAttributes, type SessionDescription } from 'sdp-transform';
import { UnsupportedError } from '../../server/errors.js';

/** Audio codecs a phone leg can use, in the trunk's order of preference. */
export type PhoneCodecName = 'PCMU' | 'PCMA' | 'opus';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

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
}

export interface LocalMedia {
  address: string;
  port: number;
}

const STATIC: Record<number, PhoneCodec> = {
  0: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
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
    const fmtp = media.fmtp.find((entry) => entry.payload === payloadType)?.config;
    if (!rtp) return STATIC[payloadType] ? [STATIC[payloadType]] : [];
    const name = rtp.codec.toLowerCase();
    const known = name === 'pcmu' ? 'PCMU' : name === 'pcma' ? 'PCMA'
      : name === 'opus' ? 'opus' : name === 'telephone-event' ? 'telephone-event' : null;
    if (!known) return [];
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

function audioLine(session: SessionDescription) {
  const audio = session.media.find((media) => media.type === 'audio' && media.port !== 0);
  if (!audio) throw sdpError('no active audio stream');
  if (audio.protocol !== 'RTP/AVP' && audio.protocol !== 'RTP/AVPF') {
    throw sdpError(`media protocol ${audio.protocol} is not supported (RTP/AVP only)`);
  }
  const address = audio.connection?.ip ?? session.connection?.ip;
  if (!address || isIP(address) === 0) throw sdpError('no usable connection address');
  if (!Number.isInteger(audio.port) || audio.port < 1 || audio.port > 65535) throw sdpError('bad media port');
  return { audio, address };
}

function describeRemote(session: SessionDescription, chosen: PhoneCodec, offered: PhoneCodec[]): Omit<NegotiatedAudio, 'localDirection'> {
  const { audio, address } = audioLine(session);
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

function localSdp(local: LocalMedia, sessionId: string, version: number, codecs: PhoneCodec[],
  event: { payloadType: number; clockRate: number } | null, ptime: number, direction: MediaDirection): string {
  const family = isIP(local.address) === 6 ? 6 : 4;
  const all = event ? [...codecs, { name: 'telephone-event', payloadType: event.payloadType, clockRate: event.clockRate, channels: 1 }] : codecs;
  const session: SessionDescription = {
    version: 0,
    origin: { username: 'conflux', sessionId, sessionVersion: version, netType: 'IN', ipVer: family, address: local.address },
    name: 'conflux',
    connection: { version: family, ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [{
      type: 'audio', port: local.port, protocol: 'RTP/AVP', payloads: all.map((codec) => codec.payloadType).join(' '),
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
    }],
  };
  return write(session);
}

export interface AnswerResult {
  answerSdp: string;
  negotiated: NegotiatedAudio;
}

/** Picks from a phone's offer: the first of our codecs it offers; 488 (UnsupportedError) when none. */
export function negotiateOffer(offerSdp: string, preferred: readonly PhoneCodecName[]): NegotiatedAudio {
  const session = parseSdp(offerSdp);
  const { audio, address } = audioLine(session);
  const offered = offeredCodecs(audio);
  const chosen = preferred.map((name) => offered.find((codec) => codec.name === name)).find(Boolean);
  if (!chosen) {
    throw sdpError(`no common audio codec (offered ${offered.map((c) => c.name).join(', ') || 'none'}; supported ${preferred.join(', ')})`);
  }
  const remote = describeRemote(session, chosen, offered);
  const codec = chosen.name === 'opus' ? { ...chosen, fmtp: 'minptime=10;useinbandfec=1' } : chosen;
  return { ...remote, codec, localDirection: ANSWER_DIRECTION[directionOf(audio, session, address)] };
}

/** Our answer to a negotiated offer, with the RTP address we receive on. */
export function buildAnswer(negotiated: NegotiatedAudio, local: LocalMedia, sessionId: string, version = 1): string {
  return localSdp(local, sessionId, version, [negotiated.codec], negotiated.telephoneEvent, negotiated.ptime,
    negotiated.localDirection);
}

/** Negotiates and answers in one step. */
export function answerOffer(offerSdp: string, preferred: readonly PhoneCodecName[], local: LocalMedia, sessionId: string, version = 1): AnswerResult {
  const negotiated = negotiateOffer(offerSdp, preferred);
  return { answerSdp: buildAnswer(negotiated, local, sessionId, version), negotiated };
}

/** Our offer for dial-out: the trunk's codecs in order, plus telephone-event. */
export function createOffer(preferred: readonly PhoneCodecName[], local: LocalMedia, sessionId: string, version = 1): string {
  const codecs = preferred.map((name): PhoneCodec => {
    if (name === 'opus') return { name, payloadType: DEFAULT_DYNAMIC.opus, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
    return Object.values(STATIC).find((codec) => codec.name === name)!;
  });
  return localSdp(local, sessionId, version, codecs, { payloadType: DEFAULT_DYNAMIC['telephone-event'], clockRate: 8000 }, 20, 'sendrecv');
}

/** Reads the phone's answer to our offer; 488 when it picked nothing we offered. */
export function readAnswer(answerSdp: string, preferred: readonly PhoneCodecName[]): NegotiatedAudio {
  const session = parseSdp(answerSdp);
  const { audio, address } = audioLine(session);
  const offered = offeredCodecs(audio);
  const chosen = offered.find((codec) => preferred.includes(codec.name));
  if (!chosen) throw sdpError('the answer holds none of the offered codecs');
  const remote = describeRemote(session, chosen, offered);
  return { ...remote, localDirection: ANSWER_DIRECTION[directionOf(audio, session, address)] };
}
