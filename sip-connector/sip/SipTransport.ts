import type { Server } from 'node:net';
import { TypedEmitter } from './TypedEmitter.js';
import type { Destination, SipTransportEvents, TransportKind } from './TransportTypes.js';

/** A listening socket (or set of connections) that moves raw SIP messages. */
export abstract class SipTransport extends TypedEmitter<SipTransportEvents> {
  abstract readonly kind: TransportKind;
  /** Reliable transports need no SIP-level retransmission. */
  abstract readonly reliable: boolean;

  constructor(readonly host: string, protected requestedPort: number) {
    super();
  }

  /** The bound port (known after listen). */
  abstract get port(): number;

  /** Binds and starts accepting. */
  abstract listen(): Promise<void>;

  /** Sends one message; rejects with SipTransportError when it cannot leave this host. */
  abstract send(data: Buffer, dest: Destination): Promise<void>;

  /** True when the named connection is still open (always false for datagram transports). */
  hasFlow(_flowId: string): boolean {
    return false;
  }

  /** Stops listening and closes every connection. */
  abstract close(): Promise<void>;
}

/** Starts a server listening and resolves once it is bound (rejects when the bind fails). */
export function listenOn(server: Pick<Server, 'listen' | 'once' | 'off'>, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
