import type { types } from 'mediasoup';
import type { MediaSource, ParticipantInfo } from '../signalling/SignallingMessages.js';

export type { ParticipantInfo };

/** `media-restart`: the room's media worker died and the room was rebuilt on another: rejoin. */
export type RemovalReason = 'kicked' | 'room-closed' | 'duplicate-identity' | 'server-shutdown' | 'media-restart' | 'left' | 'disconnected';

export interface RoomOptions {
  /** Close this long after the last participant leaves (or after creation if nobody joins). */
  emptyTimeoutSeconds: number;
  maxParticipants: number;
}

export interface RoomInfo {
  name: string;
  createdAt: string;
  numParticipants: number;
  emptyTimeoutSeconds: number;
  maxParticipants: number;
}

/** A place in a room kept for someone not yet in it; joining with it, or `release()`, gives it up (once). */
export interface RoomSeat {
  readonly held: boolean;
  release(): void;
}

export interface JoinOptions {
  identity: string;
  displayName: string;
  kind: 'webrtc' | 'sip';
  attributes?: Record<string, string>;
}

/** Where a participant's WebRTC transports listen and what they announce. */
export interface TransportListenConfig {
  listenIp: string;
  announcedAddress: string;
  minPort: number;
  maxPort: number;
  enableTcp: boolean;
  initialAvailableOutgoingBitrate: number;
}

export interface ProducerAppData extends types.AppData {
  participantId: string;
  source: MediaSource;
}

export type RoomEvents = {
  participantjoined: [participant: ParticipantInfo];
  participantleft: [participantId: string, reason: RemovalReason];
  newproducer: [participantId: string, producer: types.Producer<ProducerAppData>];
  producerclosed: [participantId: string, producerId: string];
  producerpaused: [participantId: string, producerId: string];
  producerresumed: [participantId: string, producerId: string];
  activespeaker: [participantId: string | null];
  /** A participant raised or lowered its hand. */
  handchanged: [participantId: string, raised: boolean];
  /** The router died with its worker: everyone was removed (`media-restart`), and a new router is being made. */
  mediarestart: [];
  /** The room has a router again (on a live worker): participants may rejoin. */
  mediarestored: [];
  close: [];
};

export type ParticipantEvents = {
  newproducer: [producer: types.Producer<ProducerAppData>];
  consumerclosed: [consumerId: string];
  consumerpaused: [consumerId: string];
  consumerresumed: [consumerId: string];
  consumerscore: [consumerId: string, score: number, producerScore: number];
  consumerlayerschanged: [consumerId: string, spatialLayer: number | null, temporalLayer: number | null];
  /** It raised or lowered its hand. */
  hand: [raised: boolean];
  /** The participant is out of the room; carries why. */
  close: [reason: RemovalReason];
};
