import { createCipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SrtpContext } from '../../../../sip-connector/media/SrtpContext.js';
import { SrtpError } from '../../../../sip-connector/media/SrtpError.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const MATERIAL = Buffer.from(Array.from({ length: 30 }, (_, i) => (i * 7 + 3) & 0xff));

function rtp(seq: number, options: { ssrc?: number; payload?: Buffer; csrcs?: number; extension?: boolean } = {}): Buffer {
  const csrcs = options.csrcs ?? 0;
  const extension = options.extension ? Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00]) : Buffer.alloc(0);
  const header = Buffer.alloc(12 + 4 * csrcs);
  header[0] = 0x80 | (options.extension ? 0x10 : 0) | csrcs;
  header[1] = 0;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE((seq * 160) >>> 0, 4);
  header.writeUInt32BE(options.ssrc ?? 0x1234abcd, 8);
  for (let i = 0; i < csrcs; i++) header.writeUInt32BE(i + 1, 12 + 4 * i);
  const payload = options.payload ?? Buffer.from(Array.from({ length: 160 }, (_, i) => (seq + i) & 0xff));
  return Buffer.concat([header, extension, payload]);
}

function rejects(context: SrtpContext, packet: Buffer): string {
  try {
    context.unprotect(packet);
  } catch (error) {
    expect(error).toBeInstanceOf(SrtpError);
    return (error as SrtpError).code;
  }
  throw new Error('unprotect accepted the packet');
}

describe('SrtpContext', () => {
  it('derives the session keys of RFC 3711 Appendix B.3', () => {
    const keys = SrtpContext.deriveSessionKeys(hex('E1F97A0D3E018BE0D64FA32C06DE4139'), hex('0EC675AD498AFEEBB6960B3AABE6'));
    expect(keys.cipherKey.toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(keys.cipherSalt.toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(keys.authKey.toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('produces the AES-CM keystream of RFC 3711 Appendix B.2', () => {
    // The appendix's session salt F0F1…FCFD with SSRC, ROC and sequence number all zero.
    const stream = SrtpContext.keystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0, 16 * 0xff02);
    const block = (n: number): string => stream.subarray(n * 16, n * 16 + 16).toString('hex').toUpperCase();
    expect(block(0x0000)).toBe('E03EAD0935C95E80E166B16DD92B4EB4');
    expect(block(0x0001)).toBe('D23513162B02D0F72A43A2FE4A5F97AB');
    expect(block(0x0002)).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('lays out a protected packet as RFC 3711 says: header clear, payload under the keystream, tag over header, payload and ROC', () => {
    const sender = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const plain = rtp(1000, { ssrc: 0xcafebabe });
    const srtp = sender.protect(plain);
    expect(srtp.length).toBe(plain.length + 10);
    expect(srtp.subarray(0, 12)).toEqual(plain.subarray(0, 12));
    // An independent computation with node:crypto alone.
    const keys = SrtpContext.deriveSessionKeys(MATERIAL.subarray(0, 16), MATERIAL.subarray(16));
    const iv = Buffer.alloc(16);
    keys.cipherSalt.copy(iv);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ 0xcafebabe) >>> 0, 4);
    iv.writeUInt16BE(iv.readUInt16BE(12) ^ 1000, 12);
    const cipher = createCipheriv('aes-128-ctr', keys.cipherKey, iv);
    const payload = Buffer.concat([cipher.update(plain.subarray(12)), cipher.final()]);
    expect(srtp.subarray(12, plain.length)).toEqual(payload);
    const tag = createHmac('sha1', keys.authKey).update(srtp.subarray(0, plain.length)).update(Buffer.alloc(4)).digest().subarray(0, 10);
    expect(srtp.subarray(plain.length)).toEqual(tag);
  });

  it('round-trips packets for both suites, with CSRCs and header extensions left in the clear', () => {
    for (const [suite, tag] of [['AES_CM_128_HMAC_SHA1_80', 10], ['AES_CM_128_HMAC_SHA1_32', 4]] as const) {
      const sender = new SrtpContext(suite, MATERIAL);
      const receiver = new SrtpContext(suite, MATERIAL);
      let seq = 10;
      for (const options of [{}, { csrcs: 2 }, { extension: true }, { payload: Buffer.alloc(0) }]) {
        for (let n = 0; n < 5; n++, seq++) {
          const plain = rtp(seq, options);
          const srtp = sender.protect(plain);
          expect(srtp.length).toBe(plain.length + tag);
          if (plain.length > 12 + 8 + 8) expect(srtp.subarray(plain.length - 20, plain.length)).not.toEqual(plain.subarray(plain.length - 20));
          expect(receiver.unprotect(srtp)).toEqual(plain);
        }
      }
    }
  });

  it('fails a tampered packet, a wrong key, a short packet and a replay, and keeps accepting the genuine stream', () => {
    const sender = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const receiver = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const first = sender.protect(rtp(1));
    expect(receiver.unprotect(first)).toEqual(rtp(1));
    const second = sender.protect(rtp(2));
    for (const at of [1, 3, 20, second.length - 1]) {
      const tampered = Buffer.from(second);
      tampered[at]! ^= 0x01;
      expect(rejects(receiver, tampered)).toBe('auth-failed');
    }
    const otherKey = Buffer.from(MATERIAL);
    otherKey[0]! ^= 0xff;
    expect(rejects(new SrtpContext('AES_CM_128_HMAC_SHA1_80', otherKey), second)).toBe('auth-failed');
    expect(rejects(receiver, second.subarray(0, 15))).toBe('too-short');
    expect(receiver.unprotect(second)).toEqual(rtp(2));
    expect(rejects(receiver, second)).toBe('replay');
    expect(rejects(receiver, first)).toBe('replay');
  });

  it('accepts reordered packets inside the 64-packet window and refuses those behind it', () => {
    const sender = new SrtpContext('AES_CM_128_HMAC_SHA1_32', MATERIAL);
    const receiver = new SrtpContext('AES_CM_128_HMAC_SHA1_32', MATERIAL);
    const packets = Array.from({ length: 100 }, (_, i) => sender.protect(rtp(500 + i)));
    receiver.unprotect(packets[0]!);
    receiver.unprotect(packets[99]!);
    expect(receiver.unprotect(packets[40]!)).toEqual(rtp(540));
    expect(rejects(receiver, packets[40]!)).toBe('replay');
    expect(rejects(receiver, packets[35]!)).toBe('replay');
    expect(receiver.unprotect(packets[36]!)).toEqual(rtp(536));
    expect(receiver.unprotect(packets[98]!)).toEqual(rtp(598));
  });

  it('carries the rollover counter across sequence 65535 → 0, with the receiver following', () => {
    const sender = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const receiver = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const seqs = [65533, 65534, 65535, 0, 1, 2];
    const packets = seqs.map((seq) => sender.protect(rtp(seq)));
    // The wrapped packets are keyed with ROC 1: a receiver that believed ROC 0 would fail them.
    const fresh = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    expect(rejects(fresh, packets[3]!)).toBe('auth-failed');
    expect(receiver.unprotect(packets[0]!)).toEqual(rtp(65533));
    expect(receiver.unprotect(packets[1]!)).toEqual(rtp(65534));
    // 0 arrives before 65535: reordering across the wrap.
    expect(receiver.unprotect(packets[3]!)).toEqual(rtp(0));
    expect(receiver.unprotect(packets[2]!)).toEqual(rtp(65535));
    expect(receiver.unprotect(packets[4]!)).toEqual(rtp(1));
    expect(receiver.unprotect(packets[5]!)).toEqual(rtp(2));
    expect(rejects(receiver, packets[3]!)).toBe('replay');
    // Half a sequence space later, ROC 1 still holds.
    const later = sender.protect(rtp(30000));
    expect(receiver.unprotect(later)).toEqual(rtp(30000));
  });

  it('keeps streams of different SSRCs apart', () => {
    const sender = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const receiver = new SrtpContext('AES_CM_128_HMAC_SHA1_80', MATERIAL);
    const a = sender.protect(rtp(7, { ssrc: 1 }));
    const b = sender.protect(rtp(7, { ssrc: 2 }));
    expect(a.subarray(12)).not.toEqual(b.subarray(12));
    expect(receiver.unprotect(a)).toEqual(rtp(7, { ssrc: 1 }));
    expect(receiver.unprotect(b)).toEqual(rtp(7, { ssrc: 2 }));
  });

  it('refuses key material of the wrong size', () => {
    expect(() => new SrtpContext('AES_CM_128_HMAC_SHA1_80', Buffer.alloc(16))).toThrow(SrtpError);
  });
});
