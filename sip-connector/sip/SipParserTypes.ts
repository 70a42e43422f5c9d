import type { SipParseError } from './SipParseError.js';
import type { SipRequest } from './SipRequest.js';
import type { SipResponse } from './SipResponse.js';

/** Bounds that keep a hostile peer from making the parser allocate or loop without limit. */
export interface SipParserLimits {
  /** Largest accepted message, head and body (default 65535). */
  maxMessageBytes: number;
  /** Largest number of header lines (default 256). */
  maxHeaders: number;
  /** Longest single (unfolded) header line (default 8192). */
  maxHeaderLineBytes: number;
}

export const DEFAULT_PARSER_LIMITS: SipParserLimits = { maxMessageBytes: 65535, maxHeaders: 256, maxHeaderLineBytes: 8192 };

/**
 * Outcome of parsing one message. On failure, `request` is set when enough of a request was read to send an
 * error response back (top Via, From, To, Call-ID, CSeq); otherwise the message can only be dropped.
 */
export type SipParseResult =
  | { ok: true; message: SipRequest | SipResponse }
  | { ok: false; error: SipParseError; request?: SipRequest };
