import { randomBytes } from 'node:crypto';
import type { types } from 'mediasoup';

/** A synthetic media stream: what the producer declares and how packets are paced. */
export interface StreamSpec {
  kind: types.MediaKind;
  label: string;
  ssrc: number;
  payloadType: number;
  clockRate: number;
  /** Frames (audio: packets) per second. */
  frameRate: number;
  packetsPerFrame: number;
  payloadBytes: number;
}

const OPUS_PT = 100;
const VP8_PT = 101;
const VIDEO_FPS = 30;
// A keyframe every second bounds how long a freshly created video consumer drops packets while it
// waits for one to start on.
const KEYFRAME_INTERVAL_FRAMES = VIDEO_FPS;

/** Opus-like audio: one 20 ms packet every 20 ms, about the size of a 32 kbit/s voice frame. */
export function audioSpec(index: number): StreamSpec {
  return {
    kind: 'audio', label: `audio${index}`, ssrc: 0x1000_0000 + index, payloadType: OPUS_PT,
    clockRate: 48_000, frameRate: 50, packetsPerFrame: 1, payloadBytes: 80,
  };
}

/** VP8-like video at 30 fps, `packetsPerSecond` split into equal frames of near-MTU packets. */
export function videoSpec(packetsPerSecond: number): StreamSpec {
  return {
    kind: 'video', label: 'video', ssrc: 0x2000_0000, payloadType: VP8_PT, clockRate: 90_000,
    frameRate: VIDEO_FPS, packetsPerFrame: Math.max(1, Math.round(packetsPerSecond / VIDEO_FPS)),
    payloadBytes: 1100,
  };
}

/** The packet rate a spec produces. */
export function packetsPerSecond(spec: StreamSpec): number {
  return spec.frameRate * spec.packetsPerFrame;
}

/** RTP parameters for `transport.produce()` that match the packets `RtpStreamWriter` emits. */
export function produceParameters(spec: StreamSpec): types.RtpParameters {
  const codec: types.RtpCodecParameters = spec.kind === 'audio'
    ? { mimeType: 'audio/opus', payloadType: spec.payloadType, clockRate: spec.clockRate, channels: 2,
        parameters: { useinbandfec: 1 } }
    : { mimeType: 'video/VP8', payloadType: spec.payloadType, clockRate: spec.clockRate,
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] };
  return { codecs: [codec], encodings: [{ ssrc: spec.ssrc }], rtcp: { cname: `bench-${spec.label}` } };
}

/**
 * Builds well-formed RTP for one stream: sequence numbers and timestamps advance as a real sender's
 * would, video carries a VP8 payload descriptor (with picture ID) and periodic keyframes, because
 * mediasoup parses both to decide what a consumer may forward.
 */
export class RtpStreamWriter {
  readonly spec: StreamSpec;
  #seq: number;
  #timestamp: number;
  #frame = 0;
  #pictureId: number;
  readonly #filler: Buffer;

  constructor(spec: StreamSpec) {
    this.spec = spec;
    this.#seq = randomBytes(2).readUInt16BE(0);
    this.#timestamp = randomBytes(4).readUInt32BE(0);
    this.#pictureId = randomBytes(2).readUInt16BE(0) & 0x7fff;
    this.#filler = randomBytes(spec.payloadBytes);
  }

  /** The packets of the next frame (one for audio). */
  nextFrame(): Buffer[] {
    const { spec } = this;
    const packets: Buffer[] = [];
    const keyFrame = this.#frame % KEYFRAME_INTERVAL_FRAMES === 0;
    for (let i = 0; i < spec.packetsPerFrame; i++) {
      const last = i === spec.packetsPerFrame - 1;
      const header = Buffer.allocUnsafe(12);
      header[0] = 0x80;
      // The marker closes a video frame; continuous audio without DTX never sets it.
      header[1] = (spec.kind === 'video' && last ? 0x80 : 0) | spec.payloadType;
      header.writeUInt16BE(this.#seq, 2);
      header.writeUInt32BE(this.#timestamp, 4);
      header.writeUInt32BE(spec.ssrc, 8);
      this.#seq = (this.#seq + 1) & 0xffff;
      packets.push(Buffer.concat([header, spec.kind === 'video' ? this.#vp8Payload(i === 0, keyFrame) : this.#filler]));
    }
    this.#timestamp = (this.#timestamp + spec.clockRate / spec.frameRate) >>> 0;
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    this.#frame++;
    return packets;
  }

  #vp8Payload(start: boolean, keyFrame: boolean): Buffer {
    const payload = Buffer.from(this.#filler);
    // Payload descriptor: X=1 (mediasoup ignores VP8 without the extension byte), S on the
    // frame's first packet, then I=1 with a 15-bit picture ID, as browsers send it.
    payload[0] = 0x80 | (start ? 0x10 : 0);
    payload[1] = 0x80;
    payload[2] = 0x80 | (this.#pictureId >> 8);
    payload[3] = this.#pictureId & 0xff;
    // VP8 payload header: the P bit is clear on a keyframe. Only the frame's first packet carries it.
    if (start) payload[4] = keyFrame ? 0x10 : 0x11;
    return payload;
  }
}
