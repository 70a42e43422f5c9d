import { readFileSync } from 'node:fs';

/** Transport protocols a SIP message can travel on. */
export type TransportKind = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** Where a message came from; `flowId` names the connection for stream transports. */
export interface MessageSource {
  transport: TransportKind;
  address: string;
  port: number;
  flowId?: string;
}

/** Where to send a message; with `flowId` an existing connection is used when it is still open. */
export interface Destination {
  transport: TransportKind;
  address: string;
  port: number;
  flowId?: string;
}

/** Events every transport emits. */
export interface SipTransportEvents {
  [event: string]: unknown[];
  /** One complete message (already framed on streams). */
  message: [data: Buffer, source: MessageSource];
  /** A stream connection went away (RFC 5626 flow failure). */
  flowClosed: [flowId: string];
}

/** Keep-alive and idle behaviour of connection-oriented transports. */
export interface StreamTransportOptions {
  /** Interval of CRLF (or WebSocket) pings on connections this side opened; 0 disables (default 25000). */
  keepAliveIntervalMs?: number;
  /** Connections without traffic for this long are closed (default 300000). */
  idleTimeoutMs?: number;
  /** Give up connecting after this long (default 5000). */
  connectTimeoutMs?: number;
  maxMessageBytes?: number;
  /** Open connections at most, both ways (default a quarter of the process's descriptor limit, at most 10,000). */
  maxConnections?: number;
  /** Inbound connections one source address may hold (default 64). */
  maxConnectionsPerSource?: number;
  /** An inbound connection that has delivered no complete message by then is closed (default 10000). */
  silentTimeoutMs?: number;
}

/** Stream transport options with their defaults filled in. */
export function streamTransportDefaults(options: StreamTransportOptions): Required<StreamTransportOptions> {
  return {
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? 25_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    maxMessageBytes: options.maxMessageBytes ?? 65535,
    maxConnections: options.maxConnections ?? defaultMaxConnections(),
    maxConnectionsPerSource: options.maxConnectionsPerSource ?? 64,
    silentTimeoutMs: options.silentTimeoutMs ?? 10_000,
  };
}

/**
 * A quarter of the descriptors the process may open (at most 10,000): a connection flood then cannot take
 * the descriptors HTTP, media sockets and files need.
 */
function defaultMaxConnections(): number {
  let soft = 1024;
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (match) soft = match[1] === 'unlimited' ? 1_000_000 : Number(match[1]);
  } catch {
    // Not Linux: keep the conservative default.
  }
  return Math.max(64, Math.min(10_000, Math.floor(soft / 4)));
}

/** How often a stream transport checks its connections for keep-alive and idleness. */
export function housekeepingIntervalMs(options: Required<StreamTransportOptions>): number {
  return Math.max(250, Math.min(options.keepAliveIntervalMs || 5000, 5000));
}

/** Certificate files for TLS and secure WebSocket listeners. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Verify the server certificate when this side connects out (default true). */
  rejectUnauthorized?: boolean;
  /** CA bundle file for verifying peers. */
  caFile?: string;
}
