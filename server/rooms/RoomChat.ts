import { ConfluxError } from '../errors.js';
import { SourceRateLimiter } from '../../sip-connector/sip/SourceRateLimiter.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';

/** One chat message of a room, as everyone in it gets it. */
export interface ChatMessage {
  /** Increasing within the room. */
  id: number;
  participantId: string;
  identity: string;
  displayName: string;
  text: string;
  sentAt: string;
}

export interface ChatSender {
  id: string;
  identity: string;
  displayName: string;
}

/** How many messages a room keeps for those who join later. */
export const CHAT_HISTORY = 100;
/** What one participant may send: a burst of five, then one a second. */
const SENDER_RATE = { perSecond: 1, burst: 5 };

/** Sent faster than the room allows. */
export class ChatRateError extends ConfluxError {
  constructor() { super('too many chat messages: wait a moment', 429, 486); }
}

/**
 * A room's text chat: the last CHAT_HISTORY messages, kept for late joiners, and a rate limit per sender so
 * no one floods the others. The signalling sessions relay each message (`message` event) to everyone.
 */
export class RoomChat extends TypedEmitter<{ message: [ChatMessage] }> {
  readonly #history: ChatMessage[] = [];
  readonly #senders: SourceRateLimiter;
  #nextId = 1;

  constructor(private readonly now: () => number = Date.now) {
    super();
    this.#senders = new SourceRateLimiter(SENDER_RATE, now);
  }

  /** Posts `text` (already validated: trimmed, bounded) from `sender`; throws ChatRateError past its rate. */
  post(sender: ChatSender, text: string): ChatMessage {
    if (!this.#senders.admit(sender.id)) throw new ChatRateError();
    const message: ChatMessage = {
      id: this.#nextId++, participantId: sender.id, identity: sender.identity, displayName: sender.displayName, text,
      sentAt: new Date(this.now()).toISOString(),
    };
    this.#history.push(message);
    if (this.#history.length > CHAT_HISTORY) this.#history.shift();
    this.safeEmit('message', message);
    return message;
  }

  /** The messages kept, oldest first. */
  history(): ChatMessage[] {
    return this.#history.map((message) => ({ ...message }));
  }

  /** Forgets a sender that left (its allowance). */
  forget(participantId: string): void {
    this.#senders.forget(participantId);
  }
}
