import { z } from 'zod';
import type { ChatMessage } from '../rooms/RoomChat.js';

export type { ChatMessage };

/**
 * The WebSocket signalling protocol between a browser (client/sdk) and the server.
 *
 * Client → server: `{ id, method, data }` requests. Server → client: `{ id, ok: true, data }` or
 * `{ id, ok: false, error: { code, message } }` responses, and `{ notification: method, data }`.
 * Every inbound frame is validated here; the rest of the server trusts these types.
 */

const id = z.string().min(1).max(128);
// mediasoup validates RTP/DTLS parameters itself and throws a TypeError we turn into a 400; here we only
// bound their shape and size so a hostile client cannot hand the worker arbitrary structures.
const opaqueObject = z.record(z.string(), z.unknown());

export const MediaSource = z.enum(['mic', 'camera', 'screen', 'screen-audio', 'phone']);
export type MediaSource = z.infer<typeof MediaSource>;

export const requestSchemas = {
  join: z.object({ token: z.string().min(1).max(4096), displayName: z.string().max(128).optional() }),
  getRouterRtpCapabilities: z.object({}),
  createWebRtcTransport: z.object({
    direction: z.enum(['send', 'recv']),
    forceTcp: z.boolean().optional(),
  }),
  connectWebRtcTransport: z.object({ transportId: id, dtlsParameters: opaqueObject }),
  restartIce: z.object({ transportId: id }),
  produce: z.object({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters: opaqueObject,
    source: MediaSource.default('mic'),
  }),
  closeProducer: z.object({ producerId: id }),
  pauseProducer: z.object({ producerId: id }),
  resumeProducer: z.object({ producerId: id }),
  consume: z.object({ transportId: id, producerId: id, rtpCapabilities: opaqueObject }),
  pauseConsumer: z.object({ consumerId: id }),
  resumeConsumer: z.object({ consumerId: id }),
  setConsumerPreferredLayers: z.object({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(3),
    temporalLayer: z.number().int().min(0).max(3).optional(),
  }),
  leave: z.object({}),
  raiseHand: z.object({ raised: z.boolean() }),
  /** A host's (a token with roomAdmin): mute or unmute another participant's audio or video. */
  muteParticipant: z.object({ participantId: id, kind: z.enum(['audio', 'video']), muted: z.boolean() }),
  /** A host's: remove another participant from the room (as a REST kick). */
  removeParticipant: z.object({ participantId: id }),
  /** A chat message to everyone in the room: trimmed, 1-2000 characters, no control characters but new lines and tabs. */
  sendChat: z.object({
    text: z.string().trim().min(1).max(2000)
      // eslint-disable-next-line no-control-regex
      .refine((text) => !/[\u0000-\u0008\u000B-\u001F\u007F]/.test(text), 'text must not hold control characters'),
  }),
} as const;

export type RequestMethod = keyof typeof requestSchemas;
export type RequestData<M extends RequestMethod> = z.infer<(typeof requestSchemas)[M]>;

export const RequestEnvelope = z.object({
  id: z.number().int().nonnegative(),
  method: z.string().max(64),
  data: z.unknown().optional(),
});

export interface ProducerInfo {
  id: string;
  kind: 'audio' | 'video';
  source: MediaSource;
  paused: boolean;
}

export interface ParticipantInfo {
  id: string;
  identity: string;
  displayName: string;
  /** `webrtc` for browsers, `sip` for phone legs bridged into the room. */
  kind: 'webrtc' | 'sip';
  attributes: Record<string, string>;
  producers: ProducerInfo[];
  /** It raised its hand (to ask to speak). */
  handRaised: boolean;
}

/** What each request answers with. */
export interface ResponseData {
  join: {
    participantId: string;
    roomId: string;
    identity: string;
    routerRtpCapabilities: unknown;
    participants: ParticipantInfo[];
    /** The room's recent chat messages, oldest first. */
    chat: ChatMessage[];
    /** Our token makes us a host: we may mute and remove the others. */
    roomAdmin: boolean;
  };
  getRouterRtpCapabilities: { routerRtpCapabilities: unknown };
  createWebRtcTransport: {
    id: string;
    iceParameters: unknown;
    iceCandidates: unknown[];
    dtlsParameters: unknown;
  };
  connectWebRtcTransport: Record<string, never>;
  restartIce: { iceParameters: unknown };
  produce: { id: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  consume: {
    id: string;
    producerId: string;
    participantId: string;
    kind: 'audio' | 'video';
    rtpParameters: unknown;
    type: string;
    producerPaused: boolean;
  };
  pauseConsumer: Record<string, never>;
  resumeConsumer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  leave: Record<string, never>;
  sendChat: { id: number; sentAt: string };
  raiseHand: Record<string, never>;
  muteParticipant: Record<string, never>;
  removeParticipant: Record<string, never>;
}

/** Server → client notifications. */
export interface NotificationData {
  participantJoined: { participant: ParticipantInfo };
  participantLeft: { participantId: string };
  newProducer: { participantId: string; producer: ProducerInfo };
  producerClosed: { participantId: string; producerId: string };
  producerPaused: { participantId: string; producerId: string };
  producerResumed: { participantId: string; producerId: string };
  consumerClosed: { consumerId: string };
  consumerPaused: { consumerId: string };
  consumerResumed: { consumerId: string };
  consumerScore: { consumerId: string; score: number; producerScore: number };
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { participantId: string | null };
  /** A participant raised or lowered its hand, ours included. */
  handRaised: { participantId: string; raised: boolean };
  /** A chat message of the room, ours included. */
  chatMessage: ChatMessage;
  /** The server removed this participant (REST kick, room deleted); the socket closes after it. */
  removed: { reason: 'kicked' | 'room-closed' | 'duplicate-identity' | 'server-shutdown' | 'media-restart' };
}

export type NotificationMethod = keyof NotificationData;

export type ResponseFrame =
  | { id: number; ok: true; data: unknown }
  | { id: number; ok: false; error: { code: number; message: string } };

export interface NotificationFrame<M extends NotificationMethod = NotificationMethod> {
  notification: M;
  data: NotificationData[M];
}

/** Largest frame the server accepts; SDP-derived RTP parameters of a simulcast camera fit in ~8 KiB. */
export const MAX_SIGNALLING_FRAME_BYTES = 64 * 1024;
