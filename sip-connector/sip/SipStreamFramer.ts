import { SipParseError } from './SipParseError.js';

/** What a chunk of stream data turned into. */
export type SipFrame =
  | { type: 'message'; data: Buffer }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; error: SipParseError };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CL_RE = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?(?:\n|$)/i;

/**
 * Cuts a byte stream into messages by Content-Length (RFC 3261 §18.3) and recognises RFC 5626 keep-alives:
 * a double CRLF is a ping, a single CRLF a pong. An error leaves the stream out of sync: close it.
 */
export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly maxMessageBytes = 65535) {}

  /** Feeds data; returns the frames it completed. */
  push(chunk: Buffer): SipFrame[] {
    if (this.failed) return [];
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: SipFrame[] = [];
    for (;;) {
      const b = this.buffer;
      if (b.length === 0) break;
      if (b[0] === 0x0d || b[0] === 0x0a) {
        if (b.length >= 4 && b.subarray(0, 4).equals(CRLFCRLF)) {
          frames.push({ type: 'ping' });
          this.buffer = b.subarray(4);
          continue;
        }
        // a lone CRLF may be the first half of a ping split across segments, so a pong is only known once more follows
        if (b.length >= 3 && b[0] === 0x0d && b[1] === 0x0a && b[2] !== 0x0d) {
          frames.push({ type: 'pong' });
          this.buffer = b.subarray(2);
          continue;
        }
        if (b[0] === 0x0a) {
          this.buffer = b.subarray(1);
          continue;
        }
        if (b.length < 4) break;
        this.buffer = b.subarray(1);
        continue;
      }
      const headEnd = b.indexOf(CRLFCRLF);
      if (headEnd < 0) {
        if (b.length > this.maxMessageBytes) return this.fail(frames, 'message head too large');
        break;
      }
      const head = b.subarray(0, headEnd + 2).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
      const m = CL_RE.exec(head);
      if (!m) return this.fail(frames, 'Content-Length required on stream transports');
      const total = headEnd + 4 + Number(m[1]);
      if (total > this.maxMessageBytes) return this.fail(frames, 'message too large');
      if (b.length < total) break;
      frames.push({ type: 'message', data: Buffer.from(b.subarray(0, total)) });
      this.buffer = b.subarray(total);
    }
    return frames;
  }

  private fail(frames: SipFrame[], reason: string): SipFrame[] {
    this.failed = true;
    this.buffer = Buffer.alloc(0);
    frames.push({ type: 'error', error: new SipParseError(reason) });
    return frames;
  }
}
