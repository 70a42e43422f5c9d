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

/**
 * The room codecs with Opus at `payloadType`: mediasoup sends every consumer the router's payload types, so a
 * private call's room numbers Opus as the browser or phone on its other side does (each numbers it itself).
 */
export function roomMediaCodecs(opusPayloadType?: number): types.RouterRtpCodecCapability[] {
  // Only a dynamic payload type (RFC 3551): a static one belongs to another codec.
  if (opusPayloadType === undefined || opusPayloadType < 96 || opusPayloadType > 127) return ROOM_MEDIA_CODECS;
  return ROOM_MEDIA_CODECS.map((codec) => (codec.mimeType === 'audio/opus' ? { ...codec, preferredPayloadType: opusPayloadType } : codec));
}
