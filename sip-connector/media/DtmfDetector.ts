import { Rfc4733 } from './Rfc4733.js';
import type { RtpPacket } from './RtpPacket.js';
import { RtpParseError } from './RtpParseError.js';

/** A DTMF key press seen on an RTP stream. `end` carries the final duration. */
export interface DtmfEvent {
  type: 'start' | 'end';
  digit: string;
  /** RTP timestamp of the event start: identifies one key press. */
  timestamp: number;
  volume: number;
  /** Only on 'end'. */
  durationMs?: number;
  /** Only on 'end': why it ended (E bit, a new event before the E bit, or no packets for a while). */
  reason?: 'end-bit' | 'superseded' | 'timeout';
}

interface Current {
  ssrc: number;
  timestamp: number;
  event: number;
  volume: number;
  /** Duration of earlier segments of a long event plus this segment's latest duration, in clock units. */
  baseDuration: number;
  segmentTs: number;
  duration: number;
  ended: boolean;
  lastSeenMs: number;
}

// Remembered ended events: an end packet retransmitted after the next digit started must not restart it.
const RECENT = 8;

/**
 * Turns RFC 4733 telephone-event packets into one start and one end per key press. Each event is
 * retransmitted many times (every packet repeats it with a growing duration, the end packet three times,
 * plus network duplicates), so events are keyed by SSRC and start timestamp and each is reported once.
 */
export class DtmfDetector {
  private current: Current | null = null;
  private readonly recent: string[] = [];
  malformed = 0;

  constructor(
    private readonly clockRate: number,
    private readonly onEvent: (event: DtmfEvent) => void,
    /** With no packet for this long an event is ended (its end packets were all lost). */
    private readonly timeoutMs = 1000,
  ) {}

  /** Whether an event is in progress (its end not seen yet): `poll` must keep being called. */
  get active(): boolean {
    return this.current !== null;
  }

  /** Feeds one telephone-event RTP packet. */
  push(packet: RtpPacket, nowMs: number): void {
    let te;
    try {
      te = Rfc4733.parse(packet.payload);
    } catch (error) {
      if (error instanceof RtpParseError) {
        this.malformed++;
        return;
      }
      throw error;
    }
    const digit = Rfc4733.digitOf(te.event);
    if (digit === null) return;
    const cur = this.current;
    if (cur && cur.ssrc === packet.ssrc && cur.segmentTs === packet.timestamp && cur.event === te.event) {
      if (cur.ended) return;
      cur.lastSeenMs = nowMs;
      cur.duration = Math.max(cur.duration, te.duration);
      if (te.end) this.finish(cur, 'end-bit');
      return;
    }
    if (this.recent.includes(`${packet.ssrc}:${packet.timestamp}`)) return;
    // A long event continues in a new segment with a later timestamp and no marker (RFC 4733 §2.5.2.3).
    if (cur && !cur.ended && cur.ssrc === packet.ssrc && cur.event === te.event && !packet.marker) {
      const gap = (packet.timestamp - cur.segmentTs) >>> 0;
      if (gap > 0 && gap <= cur.duration + this.clockRate / 10) {
        cur.baseDuration += gap;
        cur.segmentTs = packet.timestamp;
        cur.duration = te.duration;
        cur.lastSeenMs = nowMs;
        if (te.end) this.finish(cur, 'end-bit');
        return;
      }
    }
    if (cur && !cur.ended) this.finish(cur, 'superseded');
    const next: Current = { ssrc: packet.ssrc, timestamp: packet.timestamp, segmentTs: packet.timestamp,
      event: te.event, volume: te.volume, baseDuration: 0, duration: te.duration, ended: false, lastSeenMs: nowMs };
    this.current = next;
    this.onEvent({ type: 'start', digit, timestamp: next.timestamp, volume: te.volume });
    if (te.end) this.finish(next, 'end-bit');
  }

  /** Ends an event whose end packets never arrived; call periodically. */
  poll(nowMs: number): void {
    const cur = this.current;
    if (cur && !cur.ended && nowMs - cur.lastSeenMs >= this.timeoutMs) this.finish(cur, 'timeout');
  }

  private finish(cur: Current, reason: 'end-bit' | 'superseded' | 'timeout'): void {
    cur.ended = true;
    this.recent.push(`${cur.ssrc}:${cur.segmentTs}`);
    if (cur.segmentTs !== cur.timestamp) this.recent.push(`${cur.ssrc}:${cur.timestamp}`);
    while (this.recent.length > RECENT) this.recent.shift();
    this.onEvent({
      type: 'end', digit: Rfc4733.digitOf(cur.event) ?? '?', timestamp: cur.timestamp, volume: cur.volume,
      durationMs: Math.round(((cur.baseDuration + cur.duration) * 1000) / this.clockRate), reason,
    });
  }
}
