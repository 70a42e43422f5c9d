import { networkInterfaces } from 'node:os';
import { AuthFailureGuard } from './sip/AuthFailureGuard.js';
import type { AuthFailureGuardOptions } from './sip/AuthFailureGuardTypes.js';
import type { SipLogger } from './sip/Logger.js';
import { Registrar } from './sip/Registrar.js';
import type { RegistrationClient } from './sip/RegistrationClient.js';
import type { DigestAlgorithm } from './sip/DigestAuth.js';
import type { DigestCredentials } from './sip/DigestAuth.js';
import { TcpTransport } from './sip/TcpTransport.js';
import { TlsTransport } from './sip/TlsTransport.js';
import { TransactionLayer } from './sip/TransactionLayer.js';
import type { SipTimers } from './sip/TransactionTypes.js';
import { TransportLayer } from './sip/TransportLayer.js';
import type { StreamTransportOptions, TransportKind } from './sip/TransportTypes.js';
import { UdpTransport } from './sip/UdpTransport.js';
import type { RateLimit } from './sip/SourceRateLimiter.js';
import { UserAgent } from './sip/UserAgent.js';
import { WsTransport } from './sip/WsTransport.js';

/** Options of the SIP interconnect (null or absent port: that transport is off; 0: ephemeral port). */
export interface SipServerOptions {
  host?: string;
  /** Address put in Via and Contact; defaults to `host`, or the first external IPv4 when `host` is a wildcard. */
  advertisedHost?: string;
  udpPort?: number | null;
  tcpPort?: number | null;
  tlsPort?: number | null;
  tls?: { certFile: string; keyFile: string; rejectUnauthorized?: boolean; caFile?: string };
  wsPort?: number | null;
  wssPort?: number | null;
  /** Domain served by the registrar and used in From. */
  domain: string;
  /** Users allowed to register with the built-in registrar. */
  users: Array<{ username: string; password: string }>;
  timers?: Partial<SipTimers>;
  /** Credentials for trunks that challenge our requests. */
  credentials?: DigestCredentials[];
  /**
   * Registrar challenges, most preferred first (RFC 8760). Default MD5 alone: JsSIP 3.13 keeps only the
   * last WWW-Authenticate and computes only MD5, while baresip 1.0 (libre) answers only the first and
   * gives up on anything but MD5, so no order of two algorithms serves both.
   */
  digestAlgorithms?: DigestAlgorithm[];
  /** Thresholds of the digest brute-force guard (registrar and trunk challenges alike). */
  authGuard?: AuthFailureGuardOptions;
  sessionExpiresSec?: number;
  keepAliveIntervalMs?: number;
  userName?: string;
  /** Per-source-address message rate; messages over it are dropped unparsed (flood protection). */
  rateLimit?: RateLimit;
  /** Caps of the TCP, TLS and WebSocket listeners (total, per source, silent connections). */
  connectionLimits?: Pick<StreamTransportOptions, 'maxConnections' | 'maxConnectionsPerSource' | 'silentTimeoutMs'>;
}

/** Bound ports of the enabled transports. */
export type SipServerPorts = Partial<Record<TransportKind, number>>;

/** The product's SIP endpoint: transports, transactions, registrar and the UA API in one process-level object. */
export class SipServer {
  private readonly registrationClients = new Set<RegistrationClient>();

  private constructor(
    readonly transport: TransportLayer,
    readonly transactions: TransactionLayer,
    readonly userAgent: UserAgent,
    readonly registrar: Registrar,
    /** Counts wrong digest answers of every challenge this endpoint makes; blocks sources and users. */
    readonly authGuard: AuthFailureGuard,
    private readonly logger: SipLogger,
  ) {}

  /** Binds the configured transports and starts answering. INVITEs are rejected 404 until `userAgent.onInvite` is set. */
  static async start(options: SipServerOptions, logger: SipLogger): Promise<SipServer> {
    // The caller's logger names the component (the server's is `sip`): a child binding would repeat the key.
    const log = logger;
    const host = options.host ?? '0.0.0.0';
    const advertised = options.advertisedHost ?? advertisedAddress(host);
    const transport = new TransportLayer(log, advertised, {}, options.rateLimit);
    const streamOpts: StreamTransportOptions = {
      ...(options.keepAliveIntervalMs !== undefined ? { keepAliveIntervalMs: options.keepAliveIntervalMs } : {}),
      ...options.connectionLimits,
    };
    const authGuard = new AuthFailureGuard(options.authGuard);
    authGuard.on('blocked', (block) => log.warn({ ...block }, 'authentication blocked after repeated failures'));
    const registrar = new Registrar({
      domain: options.domain, users: options.users, algorithms: options.digestAlgorithms ?? ['MD5'], guard: authGuard,
    });
    try {
      if (options.udpPort != null) await transport.add(new UdpTransport(host, options.udpPort));
      if (options.tcpPort != null) await transport.add(new TcpTransport(host, options.tcpPort, streamOpts));
      if (options.tlsPort != null) {
        if (!options.tls) throw new Error('tlsPort requires tls.certFile and tls.keyFile');
        await transport.add(new TlsTransport(host, options.tlsPort, options.tls, streamOpts));
      }
      if (options.wsPort != null) await transport.add(new WsTransport(host, options.wsPort, undefined, streamOpts));
      if (options.wssPort != null) {
        if (!options.tls) throw new Error('wssPort requires tls.certFile and tls.keyFile');
        await transport.add(new WsTransport(host, options.wssPort, options.tls, streamOpts));
      }
    } catch (err) {
      await transport.close();
      registrar.close();
      throw err;
    }
    const transactions = new TransactionLayer(transport, log, options.timers);
    const userAgent = new UserAgent(transactions, {
      logger: log, domain: options.domain, registrar,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.sessionExpiresSec !== undefined ? { sessionExpiresSec: options.sessionExpiresSec } : {}),
      ...(options.userName ? { userName: options.userName } : {}),
    });
    const server = new SipServer(transport, transactions, userAgent, registrar, authGuard, log);
    userAgent.onInvite((call) => call.reject(404));
    log.info({ ports: server.ports, advertised, domain: options.domain }, 'SIP listening');
    return server;
  }

  /** Ports actually bound, per transport. */
  get ports(): SipServerPorts {
    const out: SipServerPorts = {};
    for (const [kind, t] of this.transport.transports) out[kind] = t.port;
    return out;
  }

  /** Tracks a registration client so `close()` unregisters it. */
  adoptRegistration(client: RegistrationClient): void {
    this.registrationClients.add(client);
    client.once('closed', () => this.registrationClients.delete(client));
  }

  /** Unregisters, ends calls, stops transactions and closes sockets. */
  async close(): Promise<void> {
    await Promise.all([...this.registrationClients].map((c) => c.stop().catch(() => undefined)));
    await this.userAgent.shutdown();
    // give the BYEs/CANCELs and unregistrations a moment on the wire before the sockets go
    await new Promise((r) => setTimeout(r, 50));
    this.transactions.close();
    this.registrar.close();
    await this.transport.close();
    this.logger.info('SIP server closed');
  }
}

function advertisedAddress(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return host === '::' ? '::1' : '127.0.0.1';
}
