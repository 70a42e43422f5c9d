import type { types } from 'mediasoup';

/**
 * Codecs every room's router offers. PCMU, PCMA and G722 are listed so a phone's audio can enter a
 * room without transcoding: browsers decode all three.
 */
export const ROOM_MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 0 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000, preferredPayloadType: 8 },
  { kind: 'audio', mimeType: 'audio/G722', clockRate: 8000, preferredPayloadType: 9 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video', mimeType: 'video/H264', clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '4d0032', 'level-asymmetry-allowed': 1 },
  },
  {
    kind: 'video', mimeType: 'video/H264', clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** How a private call's room numbers its codecs, as the browser or phone on its other side does. */
export interface CodecNumbering {
  /** Opus at this dynamic payload type. */
  opusPayloadType?: number;
  /** Video in this one codec only, at its preferred payload type (a browser-to-browser call's). */
  video?: types.RouterRtpCodecCapability;
}

const isDynamic = (payloadType: number | undefined): payloadType is number =>
  payloadType !== undefined && Number.isInteger(payloadType) && payloadType >= 96 && payloadType <= 127;

/**
 * The room codecs numbered as `numbering` says: mediasoup sends every consumer the router's payload types, so a
 * private call's room numbers Opus (and its video) as the browser or phone on its other side does (each numbers
 * them itself). Audio comes first, so that the video codec's RTX, numbered by mediasoup, takes none of theirs.
 */
export function roomMediaCodecs({ opusPayloadType, video }: CodecNumbering = {}): types.RouterRtpCodecCapability[] {
  // Only a dynamic payload type (RFC 3551): a static one belongs to another codec.
  const audio = ROOM_MEDIA_CODECS.filter((codec) => codec.kind === 'audio').map((codec) => (
    codec.mimeType === 'audio/opus' && isDynamic(opusPayloadType) ? { ...codec, preferredPayloadType: opusPayloadType } : codec));
  const usable = video && isDynamic(video.preferredPayloadType) && video.preferredPayloadType !== opusPayloadType;
  return [...audio, ...(usable ? [video] : ROOM_MEDIA_CODECS.filter((codec) => codec.kind === 'video'))];
}
