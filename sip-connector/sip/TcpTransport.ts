import net from 'node:net';
import { SipStreamFramer } from './SipStreamFramer.js';
import { listenOn, SipTransport } from './SipTransport.js';
import { FlowTable, type Flow } from './FlowTable.js';
import { SipTransportError } from './SipTransportError.js';
import { housekeepingIntervalMs, streamTransportDefaults } from './TransportTypes.js';
import type { Destination, StreamTransportOptions, TransportKind } from './TransportTypes.js';
import { randomToken } from './SipRandom.js';

const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');

interface Connection extends Flow {
  socket: net.Socket;
  framer: SipStreamFramer;
  lastActivity: number;
  outbound: boolean;
  ready: Promise<void>;
}

/** SIP over TCP (RFC 3261 §18) with connection reuse and RFC 5626 CRLF keep-alive. */
export class TcpTransport extends SipTransport {
  readonly kind: TransportKind = 'tcp';
  readonly reliable = true;
  protected server: net.Server | undefined;
  private readonly connections: FlowTable<Connection>;
  private timer: NodeJS.Timeout | undefined;
  protected readonly opts: Required<StreamTransportOptions>;

  constructor(host: string, port: number, options: StreamTransportOptions = {}) {
    super(host, port);
    this.opts = streamTransportDefaults(options);
    this.connections = new FlowTable(this.opts);
  }

  /** Inbound connections closed at once by the connection caps. */
  get refusedConnections(): number {
    return this.connections.refused;
  }

  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : this.requestedPort;
  }

  /** Creates the listening server; TLS overrides this. */
  protected createServer(onSocket: (socket: net.Socket) => void): net.Server {
    return net.createServer(onSocket);
  }

  /** Opens an outgoing connection; resolves once it can carry data. TLS overrides this. */
  protected connect(dest: Destination): { socket: net.Socket; ready: Promise<void> } {
    const socket = net.connect({ host: dest.address, port: dest.port });
    return { socket, ready: new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }) };
  }

  async listen(): Promise<void> {
    const server = this.createServer((socket) => {
      // Over the total or the source's cap: closed before anything is read from it.
      if (!this.connections.admit(normalizeAddress(socket.remoteAddress))) {
        socket.destroy();
        return;
      }
      this.adopt(socket, false, Promise.resolve());
    });
    this.server = server;
    await listenOn(server, this.requestedPort, this.host);
    this.timer = setInterval(() => this.housekeeping(), housekeepingIntervalMs(this.opts));
    this.timer.unref();
  }

  private adopt(socket: net.Socket, outbound: boolean, ready: Promise<void>, dest?: Destination): Connection {
    const key = dest ? `${dest.address}:${dest.port}` : `${socket.remoteAddress}:${socket.remotePort}`;
    const now = Date.now();
    const conn: Connection = {
      id: `${this.kind}-${randomToken(6)}`, socket, key, outbound, ready, host: dest?.address ?? normalizeAddress(socket.remoteAddress),
      inbound: !outbound, openedAt: now, heard: false, framer: new SipStreamFramer(this.opts.maxMessageBytes), lastActivity: now,
    };
    this.connections.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      conn.lastActivity = Date.now();
      for (const frame of conn.framer.push(chunk)) {
        if (frame.type === 'message') {
          conn.heard = true;
          this.safeEmit('message', frame.data, {
            transport: this.kind, address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0, flowId: conn.id,
          });
        } else if (frame.type === 'ping') socket.write(PONG);
        else if (frame.type === 'error') socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.forget(conn));
    return conn;
  }

  private forget(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    this.safeEmit('flowClosed', conn.id);
  }

  override hasFlow(flowId: string): boolean {
    return this.connections.has(flowId);
  }

  async send(data: Buffer, dest: Destination): Promise<void> {
    if (!this.server) throw new SipTransportError(`${this.kind} transport not listening`);
    let conn = this.connections.find(dest);
    if (!conn) {
      const { socket, ready } = this.connect(dest);
      const timeout = setTimeout(() => socket.destroy(new Error('connect timeout')), this.opts.connectTimeoutMs);
      const guarded = ready.finally(() => clearTimeout(timeout));
      conn = this.adopt(socket, true, guarded, dest);
    }
    const c = conn;
    try {
      await c.ready;
    } catch (err) {
      c.socket.destroy();
      throw new SipTransportError(`${this.kind} connect to ${dest.address}:${dest.port} failed`, err);
    }
    await new Promise<void>((resolve, reject) => {
      c.lastActivity = Date.now();
      c.socket.write(data, (err) => (err ? reject(new SipTransportError(`${this.kind} write failed`, err)) : resolve()));
    });
  }

  private housekeeping(): void {
    const now = Date.now();
    for (const conn of this.connections.silent(now)) conn.socket.destroy();
    for (const conn of this.connections.values()) {
      if (now - conn.lastActivity > this.opts.idleTimeoutMs) conn.socket.destroy();
      else if (conn.outbound && this.opts.keepAliveIntervalMs > 0 && now - conn.lastActivity >= this.opts.keepAliveIntervalMs) {
        conn.socket.write(PING);
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const conn of this.connections.values()) conn.socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `::ffff:1.2.3.4` as seen on dual-stack sockets becomes `1.2.3.4`. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
