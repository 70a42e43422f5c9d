import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger } from '../logging/Logger.js';
import { MAX_SIGNALLING_FRAME_BYTES } from './SignallingMessages.js';
import { SignallingSession, type SignallingContext } from './SignallingSession.js';

const logger = createLogger('signalling');

/** The path browsers open their signalling WebSocket on. */
export const SIGNALLING_PATH = '/ws';

/** Accepts signalling WebSockets on the HTTP server and gives each a session. */
export class SignallingServer {
  readonly #wss: WebSocketServer;
  readonly #context: SignallingContext;
  #connections = 0;

  constructor(httpServer: Server, context: SignallingContext) {
    this.#context = context;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SIGNALLING_FRAME_BYTES });
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      if (path !== SIGNALLING_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => this.#onConnection(ws, request));
    });
  }

  #onConnection(socket: WebSocket, request: IncomingMessage): void {
    this.#connections += 1;
    const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const sessionLogger = logger.child({ remote, connection: this.#connections });
    sessionLogger.debug('signalling connection');
    new SignallingSession(socket, this.#context, sessionLogger);
  }

  get connectionCount(): number {
    return this.#wss.clients.size;
  }

  close(): void {
    for (const client of this.#wss.clients) client.close(1001, 'server shutdown');
    this.#wss.close();
  }
}
