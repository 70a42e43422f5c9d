import type { DigestCredentials } from './DigestAuth.js';

export interface RegistrationClientOptions {
  /** Registrar URI, e.g. `sip:pbx.example.com;transport=tcp`. */
  registrar: string;
  /** Address-of-record to register, e.g. `sip:alice@example.com`. */
  aor: string;
  credentials?: DigestCredentials;
  /** Requested registration lifetime in seconds (default 600). */
  expiresSec?: number;
  /** Extra Contact parameters (e.g. `+sip.instance`, `reg-id`). */
  contactParams?: Record<string, string | null>;
  /** First back-off after a failure (default 2000 ms), doubled per failure. */
  retryMinMs?: number;
  /** Back-off ceiling (default 300000 ms). */
  retryMaxMs?: number;
}

export type RegistrationClientEvents = {
  /** Registration accepted for `expiresSec`. */
  registered: [expiresSec: number];
  /** An attempt failed; a retry is scheduled after `retryInMs`. */
  failed: [status: number, reason: string, retryInMs: number];
  unregistered: [];
  closed: [];
};
