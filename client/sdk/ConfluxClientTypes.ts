import type { Consumer } from 'mediasoup-client/types';
import type {
  ChatMessage, MediaSource, NotificationData, ParticipantInfo, ProducerInfo,
} from '../../server/signalling/SignallingMessages.js';

export type { ChatMessage, MediaSource, ParticipantInfo, ProducerInfo };

export interface ConfluxClientOptions {
  /** WebSocket URL of the signalling endpoint; defaults to `/ws` on the page's origin (wss on https). */
  signallingUrl?: string;
  /** Per-request timeout for signalling requests. */
  requestTimeoutMs?: number;
}

export interface JoinOptions {
  token: string;
  displayName?: string;
}

/**
 * `new` → `connecting` → `joined` → one of `left` (we left), `removed` (server kicked us),
 * `disconnected` (socket dropped), `failed` (join refused).
 */
export type ClientState = 'new' | 'connecting' | 'joined' | 'left' | 'removed' | 'disconnected' | 'failed';

/** The sources the SDK publishes from local devices. */
export type LocalSource = Extract<MediaSource, 'mic' | 'camera'>;

/** Another participant in the room, with what they publish and what we receive from them. */
/** How well a participant's media reaches us. */
export type ConnectionQuality = 'good' | 'fair' | 'poor';

export interface RemoteParticipant {
  readonly id: string;
  identity: string;
  displayName: string;
  kind: ParticipantInfo['kind'];
  attributes: Record<string, string>;
  /** Their producers, by producer id. */
  readonly producers: Map<string, ProducerInfo>;
  /** Our consumers of their producers, by consumer id. */
  readonly consumers: Map<string, Consumer<RemoteTrackAppData>>;
  /** They raised their hand. */
  handRaised: boolean;
}

export interface RemoteTrackAppData extends Record<string, unknown> {
  participantId: string;
  source: MediaSource;
}

/** A remote media track we receive. */
export interface RemoteTrack {
  participantId: string;
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  source: MediaSource;
  track: MediaStreamTrack;
}

export interface ConfluxClientEvents extends Record<string, unknown[]> {
  stateChanged: [ClientState];
  participantJoined: [RemoteParticipant];
  participantLeft: [RemoteParticipant];
  trackAdded: [RemoteTrack];
  trackRemoved: [RemoteTrack];
  /** A remote producer was paused (muted) or resumed by its owner. */
  remoteMuteChanged: [{ participantId: string; producerId: string; source: MediaSource; muted: boolean }];
  localTrack: [{ source: LocalSource; track: MediaStreamTrack }];
  localMuteChanged: [{ source: LocalSource; muted: boolean }];
  activeSpeaker: [string | null];
  /** A participant (or we) raised or lowered a hand. */
  handChanged: [{ participantId: string; raised: boolean }];
  /** How well a participant reaches us changed (from our consumers' scores). */
  connectionQuality: [{ participantId: string; quality: ConnectionQuality; score: number }];
  /** A chat message of the room (ours too, once the server has it). */
  chatMessage: [ChatMessage];
  /** The server removed us; the client is closed afterwards. */
  removed: [RemovedReason];
  /** A non-fatal problem (e.g. one consumer could not be created). */
  warning: [Error];
}

export type RemovedReason = NotificationData['removed']['reason'];

/** A JSON-safe picture of the client, for tests and debugging. */
export interface ClientSnapshot {
  state: ClientState;
  participantId: string | null;
  roomId: string | null;
  activeSpeakerId: string | null;
  local: { source: LocalSource; producerId: string; paused: boolean; trackState: string }[];
  participants: {
    id: string;
    identity: string;
    displayName: string;
    kind: ParticipantInfo['kind'];
    producers: ProducerInfo[];
    consumers: {
      id: string;
      producerId: string;
      kind: 'audio' | 'video';
      source: MediaSource;
      paused: boolean;
      closed: boolean;
      trackState: string;
    }[];
  }[];
}
