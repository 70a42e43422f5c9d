import { RtpParseError } from './RtpParseError.js';

/** One telephone-event payload (RFC 4733 §2.3). */
export interface TelephoneEvent {
  /** Event code: 0-9 digits, 10 '*', 11 '#', 12-15 A-D. */
  event: number;
  end: boolean;
  /** Power level in -dBm0, 0..63. */
  volume: number;
  /** Duration so far in RTP clock units. */
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

/** Encoding and decoding of RFC 4733 telephone-event payloads and the DTMF digit mapping (§3.2). */
export class Rfc4733 {
  /** Size of one event payload. */
  static readonly PAYLOAD_BYTES = 4;
  /** Largest duration one packet can express; longer events are split into segments (§2.5.2.3). */
  static readonly MAX_DURATION = 0xffff;

  /** Parses the first event block of a payload; throws RtpParseError if shorter than 4 bytes. */
  static parse(payload: Uint8Array): TelephoneEvent {
    if (payload.length < 4) throw new RtpParseError('event-too-short', `telephone-event of ${payload.length} bytes`);
    return {
      event: payload[0],
      end: (payload[1] & 0x80) !== 0,
      volume: payload[1] & 0x3f,
      duration: (payload[2] << 8) | payload[3],
    };
  }

  /** Writes one event block into out at offset; returns bytes written (4). */
  static write(event: TelephoneEvent, out: Uint8Array, offset = 0): number {
    if (event.event < 0 || event.event > 255) throw new RangeError('event must be 0..255');
    if (event.volume < 0 || event.volume > 63) throw new RangeError('volume must be 0..63');
    if (event.duration < 0 || event.duration > Rfc4733.MAX_DURATION) throw new RangeError('duration must be 0..65535');
    out[offset] = event.event;
    // Bit 6 is reserved and must be zero on send.
    out[offset + 1] = (event.end ? 0x80 : 0) | event.volume;
    out[offset + 2] = event.duration >> 8;
    out[offset + 3] = event.duration & 0xff;
    return 4;
  }

  /** Maps an event code to its DTMF character, or null for non-DTMF events. */
  static digitOf(event: number): string | null {
    return event >= 0 && event < DIGITS.length ? DIGITS[event] : null;
  }

  /** Maps a DTMF character (0-9 * # A-D, case-insensitive) to its event code; throws RangeError otherwise. */
  static eventOf(digit: string): number {
    const index = digit.length === 1 ? DIGITS.indexOf(digit.toUpperCase()) : -1;
    if (index < 0) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
    return index;
  }
}
