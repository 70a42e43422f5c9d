import { createHmac } from 'node:crypto';
import type { Response } from 'express';
import type { SipCallManager } from '../../sip-connector/calls/SipCallManager.js';
import { TypedEmitter } from '../../sip-connector/sip/TypedEmitter.js';
import { createLogger } from '../logging/Logger.js';
import type { Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { ServerEvent, ServerEventPayload } from './ServerEvent.js';

const logger = createLogger('events');

export interface WebhookOptions {
  url: string;
  /** HMAC-SHA256 key; the body's signature goes in `X-Conflux-Signature: sha256=<hex>`. */
  secret: string;
}

/** Undelivered webhook events kept at most; older ones are dropped (and counted) past this. */
const WEBHOOK_QUEUE_LIMIT = 1000;
const WEBHOOK_ATTEMPTS = 3;
const WEBHOOK_TIMEOUT_MS = 5000;
const SSE_KEEPALIVE_MS = 15_000;

/**
 * Room and call events for integrations: streamed to Server-Sent-Events clients and, when configured,
 * POSTed to a webhook with a signature, in order, retried a few times.
 */
export class EventStream extends TypedEmitter<{ event: [ServerEvent] }> {
  #nextId = 1;
  readonly #webhook: WebhookOptions | null;
  readonly #queue: ServerEvent[] = [];
  #delivering = false;
  #dropped = 0;
  #closed = false;

  constructor(webhook: WebhookOptions | null) {
    super();
    this.#webhook = webhook;
  }

  /** Publishes an event to every subscriber and the webhook. */
  publish(payload: ServerEventPayload): void {
    if (this.#closed) return;
    const event = { ...payload, id: this.#nextId++, at: new Date().toISOString() } as ServerEvent;
    this.safeEmit('event', event);
    if (this.#webhook) {
      if (this.#queue.length >= WEBHOOK_QUEUE_LIMIT) {
        this.#queue.shift();
        this.#dropped += 1;
      }
      this.#queue.push(event);
      void this.#deliver();
    }
  }

  /** Events dropped because the webhook fell too far behind. */
  get droppedWebhookEvents(): number {
    return this.#dropped;
  }

  async #deliver(): Promise<void> {
    if (this.#delivering || !this.#webhook) return;
    this.#delivering = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const event = this.#queue[0]!;
        await this.#post(this.#webhook, event);
        this.#queue.shift();
      }
    } finally {
      this.#delivering = false;
    }
  }

  async #post(webhook: WebhookOptions, event: ServerEvent): Promise<void> {
    const body = JSON.stringify(event);
    const signature = createHmac('sha256', webhook.secret).update(body).digest('hex');
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      try {
        const response = await fetch(webhook.url, {
          method: 'POST', body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
          headers: { 'content-type': 'application/json', 'x-conflux-signature': `sha256=${signature}`, 'x-conflux-event': event.type },
        });
        if (response.ok) return;
        logger.warn({ status: response.status, eventId: event.id, attempt }, 'webhook refused an event');
      } catch (error) {
        logger.warn({ error: (error as Error).message, eventId: event.id, attempt }, 'webhook unreachable');
      }
      if (attempt < WEBHOOK_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 250 * 4 ** (attempt - 1)));
    }
    logger.error({ eventId: event.id, type: event.type }, 'webhook event given up');
  }

  /** Streams events to an HTTP response as Server-Sent Events until the client goes away. */
  serveSse(response: Response): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no',
    });
    response.write(': connected\n\n');
    const send = (event: ServerEvent) => {
      response.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    this.on('event', send);
    response.on('close', () => {
      clearInterval(keepAlive);
      this.off('event', send);
    });
  }

  /** Follows rooms (created/closed, participants) and calls. */
  attach(rooms: RoomRegistry, calls: SipCallManager | null): void {
    const followRoom = (room: Room) => {
      this.publish({ type: 'room_created', room: room.name });
      room.on('participantjoined', (participant) => this.publish({ type: 'participant_joined', room: room.name, participant }));
      room.on('participantleft', (participantId, reason) =>
        this.publish({ type: 'participant_left', room: room.name, participantId, reason }));
      room.once('close', () => this.publish({ type: 'room_closed', room: room.name }));
    };
    rooms.on('roomcreated', followRoom);
    if (!calls) return;
    calls.on('call.ringing', (call) => this.publish({ type: 'call_ringing', call }));
    calls.on('call.answered', (call) => this.publish({ type: 'call_answered', call }));
    calls.on('call.ended', (call) => this.publish({ type: 'call_ended', call }));
    calls.on('call.dtmf', (call, digit) => this.publish({ type: 'dtmf_received', call, digit }));
  }

  close(): void {
    this.#closed = true;
    this.removeAllListeners();
  }
}
