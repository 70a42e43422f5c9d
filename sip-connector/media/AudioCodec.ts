/**
 * What the pipeline needs from an audio codec. Everything writes into caller-owned buffers so the
 * mixing loop allocates nothing per frame.
 */
export interface AudioCodec {
  /** Codec name as in SDP (PCMU, PCMA, G722, opus). */
  readonly name: string;
  /** Rate of the PCM this codec decodes to and encodes from. */
  readonly sampleRate: number;
  readonly channels: number;
  /** Decodes one payload into out; returns samples per channel written. */
  decode(payload: Uint8Array, out: Int16Array): number;
  /** Produces `samples` samples of concealment for a lost frame; `previous` is the last good frame. */
  conceal(samples: number, out: Int16Array, previous: Int16Array | null): number;
  /** Encodes `samples` samples of pcm into out; returns bytes written. */
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number;
  /** Samples per channel a payload decodes to (at sampleRate), or throws if the payload is invalid. */
  samplesIn(payload: Uint8Array): number;
  /** Releases native state. */
  close(): void;
}

/**
 * Concealment for codecs without their own: a lost frame becomes a fade of the last good frame rather
 * than a hard cut to silence, which clicks. Returns samples written.
 */
export function concealByFade(samples: number, out: Int16Array, previous: Int16Array | null): number {
  const n = Math.min(samples, out.length);
  if (!previous || previous.length === 0) {
    out.fill(0, 0, n);
    return n;
  }
  const len = previous.length;
  for (let i = 0; i < n; i++) out[i] = Math.round(previous[i % len]! * (1 - i / n));
  return n;
}
