import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { SipTransport } from './SipTransport.js';
import { SipTransportError } from './SipTransportError.js';
import type { Destination } from './TransportTypes.js';

const UDP_RECEIVE_BUFFER = 4 << 20;

/** SIP over UDP (RFC 3261 §18): one socket both ways, so responses leave from the port requests arrived on. */
export class UdpTransport extends SipTransport {
  readonly kind = 'udp' as const;
  readonly reliable = false;
  private socket: dgram.Socket | undefined;

  get port(): number {
    return this.socket?.address().port ?? this.requestedPort;
  }

  async listen(): Promise<void> {
    // A deep receive queue rides out bursts (the kernel caps it at net.core.rmem_max); floods are for the limiter.
    const socket = dgram.createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: UDP_RECEIVE_BUFFER });
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      this.safeEmit('message', data, { transport: 'udp', address: rinfo.address, port: rinfo.port });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.requestedPort, this.host, () => {
        socket.off('error', reject);
        // ICMP errors surface here on some platforms; the transaction timers deal with lost datagrams
        socket.on('error', () => undefined);
        resolve();
      });
    });
  }

  send(data: Buffer, dest: Destination): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new SipTransportError('UDP transport not listening'));
    return new Promise((resolve, reject) => {
      socket.send(data, dest.port, dest.address, (err) => {
        if (err) reject(new SipTransportError(`UDP send to ${dest.address}:${dest.port} failed`, err));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
