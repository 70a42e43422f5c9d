import { readFileSync } from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { TcpTransport } from './TcpTransport.js';
import type { Destination, StreamTransportOptions, TlsFiles, TransportKind } from './TransportTypes.js';

/** SIP over TLS (RFC 3261 §26.2): the TCP transport with node:tls sockets. */
export class TlsTransport extends TcpTransport {
  override readonly kind: TransportKind = 'tls';
  private readonly secureContext: { cert: Buffer; key: Buffer; ca?: Buffer; rejectUnauthorized: boolean };

  constructor(host: string, port: number, files: TlsFiles, options: StreamTransportOptions = {}) {
    super(host, port, options);
    this.secureContext = {
      cert: readFileSync(files.certFile), key: readFileSync(files.keyFile),
      rejectUnauthorized: files.rejectUnauthorized ?? true,
      ...(files.caFile ? { ca: readFileSync(files.caFile) } : {}),
    };
  }

  protected override createServer(onSocket: (socket: net.Socket) => void): net.Server {
    return tls.createServer({ cert: this.secureContext.cert, key: this.secureContext.key }, onSocket);
  }

  protected override connect(dest: Destination): { socket: net.Socket; ready: Promise<void> } {
    const { ca, rejectUnauthorized } = this.secureContext;
    const socket = tls.connect({
      host: dest.address, port: dest.port, rejectUnauthorized, ...(ca ? { ca } : {}),
      ...(/^[\d.:]+$/.test(dest.address) ? {} : { servername: dest.address }),
    });
    return { socket, ready: new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    }) };
  }
}
