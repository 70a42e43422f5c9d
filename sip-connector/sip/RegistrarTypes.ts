import type { AuthFailureGuard } from './AuthFailureGuard.js';
import type { DigestAlgorithm } from './DigestAuth.js';
import type { NameAddr } from './NameAddr.js';
import type { MessageSource } from './TransportTypes.js';

/** A user of the product's own domain allowed to register. */
export interface RegistrarUser {
  username: string;
  password: string;
}

export interface RegistrarOptions {
  /** The domain this registrar is responsible for (Request-URI and To host). */
  domain: string;
  users: RegistrarUser[];
  /** Digest realm (default: the domain). */
  realm?: string;
  /** Challenges offered, most preferred first. */
  algorithms?: DigestAlgorithm[];
  /** Shortest accepted registration in seconds (default 60; shorter ones get 423). */
  minExpires?: number;
  /** Longest granted registration in seconds (default 3600). */
  maxExpires?: number;
  /** Granted when the client asks for nothing (default 3600). */
  defaultExpires?: number;
  nonceTtlMs?: number;
  /** Brute-force protection shared with the other digest checks of the endpoint. */
  guard?: AuthFailureGuard;
}

/** One registered contact of an address-of-record. */
export interface Binding {
  aor: string;
  contact: NameAddr;
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Where the REGISTER came from: requests to a WebSocket or TCP client must reuse this flow. */
  source: MessageSource;
}

export type RegistrarEvents = {
  registered: [binding: Binding];
  unregistered: [aor: string, contact: string];
};
