import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { listenOn, SipTransport } from './SipTransport.js';
import { FlowTable, type Flow } from './FlowTable.js';
import { SipTransportError } from './SipTransportError.js';
import { normalizeAddress } from './TcpTransport.js';
import { housekeepingIntervalMs, streamTransportDefaults } from './TransportTypes.js';
import type { Destination, StreamTransportOptions, TlsFiles, TransportKind } from './TransportTypes.js';
import { randomToken } from './SipRandom.js';

interface WsConnection extends Flow {
  ws: WebSocket;
  address: string;
  port: number;
  lastActivity: number;
  ready: Promise<void>;
}

/** SIP over WebSocket (RFC 7118), `sip` subprotocol; secure when given certificate files. */
export class WsTransport extends SipTransport {
  readonly kind: TransportKind;
  readonly reliable = true;
  private httpServer: http.Server | https.Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly connections: FlowTable<WsConnection>;
  private timer: NodeJS.Timeout | undefined;
  private readonly opts: Required<StreamTransportOptions>;

  constructor(host: string, port: number, private readonly tls?: TlsFiles, options: StreamTransportOptions = {}) {
    super(host, port);
    this.kind = tls ? 'wss' : 'ws';
    this.opts = streamTransportDefaults(options);
    this.connections = new FlowTable(this.opts);
  }

  /** Inbound connections closed at once by the connection caps. */
  get refusedConnections(): number {
    return this.connections.refused;
  }

  get port(): number {
    const addr = this.httpServer?.address() as AddressInfo | null | undefined;
    return addr?.port ?? this.requestedPort;
  }

  async listen(): Promise<void> {
    const server = this.tls
      ? https.createServer({ cert: readFileSync(this.tls.certFile), key: readFileSync(this.tls.keyFile) })
      : http.createServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain' }).end('SIP over WebSocket only\n');
    });
    this.httpServer = server;
    const wss = new WebSocketServer({
      server, maxPayload: this.opts.maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.wss = wss;
    wss.on('connection', (ws, req) => {
      // RFC 7118 §4: the sip subprotocol is mandatory
      if (ws.protocol !== 'sip') {
        ws.close(1002, 'sip subprotocol required');
        return;
      }
      const address = normalizeAddress(req.socket.remoteAddress);
      if (!this.connections.admit(address)) {
        ws.terminate();
        return;
      }
      this.adopt(ws, address, req.socket.remotePort ?? 0, Promise.resolve(), true);
    });
    await listenOn(server, this.requestedPort, this.host);
    this.timer = setInterval(() => this.housekeeping(), housekeepingIntervalMs(this.opts));
    this.timer.unref();
  }

  private adopt(ws: WebSocket, address: string, port: number, ready: Promise<void>, inbound: boolean): WsConnection {
    const now = Date.now();
    const conn: WsConnection = {
      id: `${this.kind}-${randomToken(6)}`, ws, key: `${address}:${port}`, host: address, inbound, openedAt: now, heard: false,
      address, port, lastActivity: now, ready,
    };
    this.connections.add(conn);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      conn.lastActivity = Date.now();
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // a bare CRLF keep-alive over WebSocket carries no message
      if (buf.toString('latin1').trim() === '') return;
      conn.heard = true;
      this.safeEmit('message', buf, { transport: this.kind, address: conn.address, port: conn.port, flowId: conn.id });
    });
    ws.on('pong', () => { conn.lastActivity = Date.now(); });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (!this.connections.delete(conn)) return;
      this.safeEmit('flowClosed', conn.id);
    });
    return conn;
  }

  override hasFlow(flowId: string): boolean {
    return this.connections.has(flowId);
  }

  async send(data: Buffer, dest: Destination): Promise<void> {
    if (!this.httpServer) throw new SipTransportError(`${this.kind} transport not listening`);
    let conn = this.connections.find(dest);
    if (!conn) {
      const host = dest.address.includes(':') ? `[${dest.address}]` : dest.address;
      const ws = new WebSocket(`${this.kind}://${host}:${dest.port}`, 'sip', {
        handshakeTimeout: this.opts.connectTimeoutMs, rejectUnauthorized: this.tls?.rejectUnauthorized ?? true,
      });
      const ready = new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      conn = this.adopt(ws, dest.address, dest.port, ready, false);
    }
    const c = conn;
    try {
      await c.ready;
    } catch (err) {
      c.ws.terminate();
      throw new SipTransportError(`${this.kind} connect to ${dest.address}:${dest.port} failed`, err);
    }
    await new Promise<void>((resolve, reject) => {
      c.lastActivity = Date.now();
      c.ws.send(data.toString('utf8'), (err) => (err ? reject(new SipTransportError(`${this.kind} send failed`, err)) : resolve()));
    });
  }

  private housekeeping(): void {
    const now = Date.now();
    for (const conn of this.connections.silent(now)) conn.ws.terminate();
    for (const conn of this.connections.values()) {
      if (now - conn.lastActivity > this.opts.idleTimeoutMs) conn.ws.terminate();
      else if (this.opts.keepAliveIntervalMs > 0 && now - conn.lastActivity >= this.opts.keepAliveIntervalMs
        && conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const conn of this.connections.values()) conn.ws.terminate();
    const wss = this.wss;
    const server = this.httpServer;
    this.wss = undefined;
    this.httpServer = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
