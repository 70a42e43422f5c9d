/** How a latched source may move to another address (NAT rebinding, a phone that changed networks). */
export interface RtpSourceLatchOptions {
  /** The latched source must have sent nothing for this long before another may take its place (default 2000 ms). */
  quietMs?: number;
  /** Consecutive valid packets from one new address that move the latch there (default 25, half a second of 20 ms audio). */
  handoverPackets?: number;
}

/** Longest datagram taken as audio RTP: one Ethernet MTU. Anything larger is junk or an attack. */
export const MAX_RTP_DATAGRAM_BYTES = 1500;

/**
 * Whether a datagram can be RTP of the negotiated stream: version 2, a header's worth of bytes, at most one
 * MTU, and one of the negotiated payload types. Judged on the clear header, so SRTP packets are checked
 * before their authentication is computed.
 */
export function isNegotiatedRtp(datagram: Uint8Array, payloadTypes: readonly number[]): boolean {
  if (datagram.length < 12 || datagram.length > MAX_RTP_DATAGRAM_BYTES) return false;
  if (datagram[0]! >> 6 !== 2) return false;
  return payloadTypes.includes(datagram[1]! & 0x7f);
}

/**
 * Strict-source latching of one RTP stream (what rtpengine calls strict source with media handover): the
 * first valid packet latches its address; packets from any other address are dropped while the latched one
 * is live, and only a sustained stream from one new address after the latched one has gone quiet moves it.
 * An attacker who knows the port can neither pull the downlink nor be heard while the phone talks.
 */
export class RtpSourceLatch {
  #remote: { ip: string; port: number } | null = null;
  #lastAt = 0;
  #candidate: { ip: string; port: number; packets: number } | null = null;
  readonly #quietMs: number;
  readonly #handoverPackets: number;

  constructor(options: RtpSourceLatchOptions = {}) {
    this.#quietMs = options.quietMs ?? 2000;
    this.#handoverPackets = options.handoverPackets ?? 25;
  }

  /** The latched address, once a valid packet has arrived. */
  get remote(): { ip: string; port: number } | null {
    return this.#remote;
  }

  /** Judges a valid packet from `ip:port` at `nowMs`: true when it comes from the latched source (which it may move). */
  admit(ip: string, port: number, nowMs: number): boolean {
    const remote = this.#remote;
    if (remote === null || (remote.ip === ip && remote.port === port)) {
      if (remote === null) this.#remote = { ip, port };
      this.#lastAt = nowMs;
      this.#candidate = null;
      return true;
    }
    if (nowMs - this.#lastAt < this.#quietMs) {
      this.#candidate = null;
      return false;
    }
    const candidate = this.#candidate;
    if (candidate?.ip === ip && candidate.port === port) candidate.packets += 1;
    else this.#candidate = { ip, port, packets: 1 };
    if (this.#candidate!.packets < this.#handoverPackets) return false;
    this.#remote = { ip, port };
    this.#lastAt = nowMs;
    this.#candidate = null;
    return true;
  }
}
