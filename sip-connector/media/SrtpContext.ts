import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { SrtpError } from './SrtpError.js';

/** SDES crypto suites we do (RFC 4568 §6.2): AES counter mode with HMAC-SHA1 tags of 80 or 32 bits. */
export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

export const SRTP_SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** Session keys of one master key (RFC 3711 §4.3), for the SRTP labels. */
export interface SrtpSessionKeys {
  cipherKey: Buffer;
  cipherSalt: Buffer;
  authKey: Buffer;
}

const MASTER_KEY_LENGTH = 16;
const MASTER_SALT_LENGTH = 14;
/** Length of the base64 `inline:` key material of both suites: master key then master salt. */
export const SRTP_KEY_MATERIAL_LENGTH = MASTER_KEY_LENGTH + MASTER_SALT_LENGTH;
const AUTH_KEY_LENGTH = 20;
const TAG_LENGTH: Record<SrtpSuite, number> = { AES_CM_128_HMAC_SHA1_80: 10, AES_CM_128_HMAC_SHA1_32: 4 };
/** RFC 3711 §4.3.2 labels for SRTP (SRTCP's 0x03-0x05 are not needed: no SRTCP is sent or read). */
const LABEL = { cipher: 0x00, auth: 0x01, salt: 0x02 } as const;
const REPLAY_WINDOW = 64;
const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;
/** SSRCs tracked per direction; a phone uses one, a re-INVITE may bring another. */
const MAX_STREAMS = 16;
const ZERO_BLOCK = Buffer.alloc(64);

/** Per-SSRC state: rollover counter, highest sequence number (s_l) and the replay window behind it. */
interface StreamState {
  roc: number;
  seq: number;
  /** Bit k set: the packet with index (highest − k) was received. */
  window: bigint;
}

/**
 * One direction of an SRTP session (RFC 3711) for RTP packets: AES-CM encryption and HMAC-SHA1
 * authentication with session keys derived once (key_derivation_rate 0), per-SSRC rollover counters and,
 * on the receiving side, a 64-packet replay window. SDES gives each direction its own master key, so a
 * call holds one context to protect with and another to unprotect with. SRTCP is left out on purpose:
 * phone legs send no RTCP and do not bind the RTCP port the phone's reports go to.
 */
export class SrtpContext {
  readonly suite: SrtpSuite;
  readonly #keys: SrtpSessionKeys;
  readonly #tagLength: number;
  readonly #streams = new Map<number, StreamState>();

  /** `keyMaterial`: the 30 bytes of master key || master salt an SDES `inline:` parameter carries. */
  constructor(suite: SrtpSuite, keyMaterial: Buffer) {
    if (!SRTP_SUITES.includes(suite)) throw new SrtpError('bad-key', `unsupported SRTP suite ${String(suite)}`);
    if (keyMaterial.length !== SRTP_KEY_MATERIAL_LENGTH) {
      throw new SrtpError('bad-key', `SRTP key material must be ${SRTP_KEY_MATERIAL_LENGTH} bytes, got ${keyMaterial.length}`);
    }
    this.suite = suite;
    this.#tagLength = TAG_LENGTH[suite];
    this.#keys = SrtpContext.deriveSessionKeys(keyMaterial.subarray(0, MASTER_KEY_LENGTH), keyMaterial.subarray(MASTER_KEY_LENGTH));
  }

  /** A context from base64 key material as written in SDP. */
  static fromBase64(suite: SrtpSuite, base64: string): SrtpContext {
    return new SrtpContext(suite, Buffer.from(base64, 'base64'));
  }

  /** RFC 3711 §4.3.1 with key_derivation_rate 0: AES-CM of the master key over (label ⊕ salt) · 2^16. */
  static deriveSessionKeys(masterKey: Buffer, masterSalt: Buffer): SrtpSessionKeys {
    if (masterKey.length !== MASTER_KEY_LENGTH || masterSalt.length !== MASTER_SALT_LENGTH) {
      throw new SrtpError('bad-key', 'AES-128 SRTP needs a 16-byte master key and a 14-byte master salt');
    }
    const derive = (label: number, length: number): Buffer => {
      const iv = Buffer.alloc(16);
      masterSalt.copy(iv, 0);
      // key_id = label || r (48 bits, 0 here) lines up with the last 7 bytes of the 14-byte salt.
      iv[7]! ^= label;
      return aesCm(masterKey, iv, ZERO_BLOCK.subarray(0, length));
    };
    return {
      cipherKey: derive(LABEL.cipher, MASTER_KEY_LENGTH),
      authKey: derive(LABEL.auth, AUTH_KEY_LENGTH),
      cipherSalt: derive(LABEL.salt, MASTER_SALT_LENGTH),
    };
  }

  /** RFC 3711 §4.1.1 keystream for one packet: IV = salt · 2^16 ⊕ SSRC · 2^64 ⊕ index · 2^16. */
  static keystream(cipherKey: Buffer, cipherSalt: Buffer, ssrc: number, index: number, length: number): Buffer {
    return aesCm(cipherKey, packetIv(cipherSalt, ssrc, index), Buffer.alloc(length));
  }

  /** Encrypts an RTP packet and appends its authentication tag; the input is left untouched. */
  protect(rtp: Buffer): Buffer {
    const headerLength = rtpHeaderLength(rtp, 0);
    const ssrc = rtp.readUInt32BE(8);
    const seq = rtp.readUInt16BE(2);
    const state = this.#streams.get(ssrc);
    const roc = state ? estimateRoc(state, seq) : 0;
    // A sequence number from before the stream began (or one that ran backwards past a wrap) has no index.
    if (roc < 0) throw new SrtpError('replay', `sequence ${seq} is older than the stream's start`);
    const index = roc * 0x10000 + seq;
    const out = Buffer.allocUnsafe(rtp.length + this.#tagLength);
    rtp.copy(out, 0, 0, headerLength);
    const payload = aesCm(this.#keys.cipherKey, packetIv(this.#keys.cipherSalt, ssrc, index), rtp.subarray(headerLength));
    payload.copy(out, headerLength);
    this.#tag(out.subarray(0, rtp.length), roc).copy(out, rtp.length);
    this.#commit(ssrc, state, roc, seq);
    return out;
  }

  /**
   * Authenticates, checks for replay and decrypts an SRTP packet into plain RTP. Throws SrtpError (and
   * changes no state) for a short or malformed packet, a wrong tag or a replayed index.
   */
  unprotect(srtp: Buffer): Buffer {
    if (srtp.length < 12 + this.#tagLength) throw new SrtpError('too-short', `SRTP packet of ${srtp.length} bytes`);
    const authenticatedLength = srtp.length - this.#tagLength;
    const headerLength = rtpHeaderLength(srtp, this.#tagLength);
    const ssrc = srtp.readUInt32BE(8);
    const seq = srtp.readUInt16BE(2);
    const state = this.#streams.get(ssrc);
    const roc = state ? estimateRoc(state, seq) : 0;
    if (roc < 0) throw new SrtpError('replay', `sequence ${seq} is older than the stream's start`);
    const index = roc * 0x10000 + seq;
    if (state) {
      const highest = state.roc * 0x10000 + state.seq;
      if (index <= highest) {
        const age = highest - index;
        if (age >= REPLAY_WINDOW) throw new SrtpError('replay', `packet index ${index} is behind the replay window`);
        if ((state.window >> BigInt(age)) & 1n) throw new SrtpError('replay', `packet index ${index} was already received`);
      }
    }
    // Authenticate before decrypting, and in constant time: a forged packet learns nothing and changes nothing.
    const expected = this.#tag(srtp.subarray(0, authenticatedLength), roc);
    if (!timingSafeEqual(expected, srtp.subarray(authenticatedLength))) {
      throw new SrtpError('auth-failed', 'SRTP authentication tag mismatch');
    }
    const out = Buffer.allocUnsafe(authenticatedLength);
    srtp.copy(out, 0, 0, headerLength);
    aesCm(this.#keys.cipherKey, packetIv(this.#keys.cipherSalt, ssrc, index), srtp.subarray(headerLength, authenticatedLength))
      .copy(out, headerLength);
    this.#commit(ssrc, state, roc, seq);
    return out;
  }

  /** HMAC-SHA1 over the authenticated portion followed by the 32-bit ROC, truncated (§4.2). */
  #tag(authenticated: Buffer, roc: number): Buffer {
    const rocBytes = Buffer.alloc(4);
    rocBytes.writeUInt32BE(roc >>> 0, 0);
    return createHmac('sha1', this.#keys.authKey).update(authenticated).update(rocBytes).digest().subarray(0, this.#tagLength);
  }

  /** §3.3.1 update once a packet is accepted: ROC and s_l move only forward; the window records the index. */
  #commit(ssrc: number, state: StreamState | undefined, roc: number, seq: number): void {
    if (!state) {
      if (this.#streams.size >= MAX_STREAMS) this.#streams.delete(this.#streams.keys().next().value!);
      this.#streams.set(ssrc, { roc, seq, window: 1n });
      return;
    }
    const highest = state.roc * 0x10000 + state.seq;
    const index = roc * 0x10000 + seq;
    if (index > highest) {
      const shift = index - highest;
      state.window = shift >= REPLAY_WINDOW ? 1n : ((state.window << BigInt(shift)) | 1n) & WINDOW_MASK;
      state.roc = roc;
      state.seq = seq;
    } else {
      state.window |= 1n << BigInt(highest - index);
    }
  }
}

/** §3.3.1: the ROC guess v for a sequence number, from the highest one seen (s_l) and the current ROC. */
function estimateRoc(state: StreamState, seq: number): number {
  if (state.seq < 0x8000) return seq - state.seq > 0x8000 ? state.roc - 1 : state.roc;
  return state.seq - 0x8000 > seq ? state.roc + 1 : state.roc;
}

/** The 16-byte counter block of a packet; the low 16 bits count keystream blocks within it. */
function packetIv(cipherSalt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  cipherSalt.copy(iv, 0);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  // The 48-bit index lands on bytes 8-13: its high 16 bits, then its low 32 bits.
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ Math.floor(index / 0x1_0000_0000), 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ (index % 0x1_0000_0000)) >>> 0, 10);
  return iv;
}

/** AES-128 in counter mode from `iv`: the keystream XORed onto `data`. */
function aesCm(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** Length of the RTP header (fixed part, CSRCs, extension) of a packet ending `trailer` bytes early. */
function rtpHeaderLength(packet: Buffer, trailer: number): number {
  const end = packet.length - trailer;
  if (end < 12) throw new SrtpError('too-short', `RTP packet of ${packet.length} bytes`);
  const first = packet[0]!;
  if (first >> 6 !== 2) throw new SrtpError('bad-version', `RTP version ${first >> 6}`);
  let length = 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    if (length + 4 > end) throw new SrtpError('too-short', 'RTP header extension runs past the packet');
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  if (length > end) throw new SrtpError('too-short', 'RTP header runs past the packet');
  return length;
}
