import type { SipCallInfo } from '../../sip-connector/calls/SipCallTypes.js';
import type { ParticipantInfo } from '../signalling/SignallingMessages.js';

/** What happened, for integrations: the SSE stream and webhooks carry these. */
export type ServerEventPayload =
  | { type: 'room_created'; room: string }
  | { type: 'room_closed'; room: string }
  | { type: 'participant_joined'; room: string; participant: ParticipantInfo }
  | { type: 'participant_left'; room: string; participantId: string; reason: string }
  | { type: 'call_ringing'; call: SipCallInfo }
  | { type: 'call_answered'; call: SipCallInfo }
  | { type: 'call_ended'; call: SipCallInfo }
  | { type: 'dtmf_received'; call: SipCallInfo; digit: string };

export type ServerEvent = ServerEventPayload & { id: number; at: string };
