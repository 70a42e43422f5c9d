/**
 * Keeps a relayed RTP stream continuous when its source restarts: a phone that resumes after hold, or a
 * re-INVITE, may start a new stream (new SSRC, random sequence number and timestamp). The receiver sees
 * one SSRC throughout (ours), so a restart must not make its sequence numbers or timestamps jump
 * backwards, or a browser's jitter buffer drops everything after it as old.
 */
export class RtpStreamContinuity {
  #inSsrc: number | null = null;
  #lastInSeq = 0;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastOutSeq = 0;
  #lastOutTs = 0;
  #lastAt = 0;

  constructor(private readonly clockRate: number) {}

  /**
   * Rewrites sequence number and timestamp of `packet` (an RTP datagram, in place) received at `nowMs`;
   * returns whether it starts a new stream (the marker bit is then set).
   */
  rewrite(packet: Buffer, nowMs: number): boolean {
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    const delta = (seq - this.#lastInSeq + 0x10000) & 0xffff;
    // A new SSRC, or a jump no reordering explains (RFC 3550 A.1's dropout bound), starts a new stream.
    const restarted = this.#inSsrc !== null && (ssrc !== this.#inSsrc || (delta > 3000 && delta < 0x10000 - 100));
    if (this.#inSsrc === null) {
      this.#lastOutSeq = (seq - 1) & 0xffff;
      this.#lastOutTs = ts;
    } else if (restarted) {
      const elapsed = Math.max(1, Math.round(((nowMs - this.#lastAt) * this.clockRate) / 1000));
      this.#seqOffset = (this.#lastOutSeq + 1 - seq) & 0xffff;
      this.#tsOffset = (this.#lastOutTs + elapsed - ts) >>> 0;
    }
    this.#inSsrc = ssrc;
    this.#lastInSeq = seq;
    const outSeq = (seq + this.#seqOffset) & 0xffff;
    const outTs = (ts + this.#tsOffset) >>> 0;
    packet.writeUInt16BE(outSeq, 2);
    packet.writeUInt32BE(outTs, 4);
    if (restarted) packet[1] = packet[1]! | 0x80;
    // Late packets of the same stream do not move the reference back.
    if (((outSeq - this.#lastOutSeq + 0x10000) & 0xffff) < 0x8000) {
      this.#lastOutSeq = outSeq;
      this.#lastOutTs = outTs;
      this.#lastAt = nowMs;
    }
    return restarted;
  }
}
