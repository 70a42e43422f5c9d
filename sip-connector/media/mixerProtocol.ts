import type { DtmfEvent } from './DtmfDetector.js';
import type { MixEngineStats } from './MixEngine.js';
import type { SrtpSuite } from './SrtpContext.js';

/** A source as the main thread describes it. */
export interface MixerSourceSpec {
  sourceId: string;
  codec: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  dtmfPayloadType?: number;
  /** Interface to receive on (a phone's RTP arrives from the network); default the thread's bindAddress. */
  bindAddress?: string;
  /** Track where the RTP really comes from, so a leg sending from this source follows it (NATed phones). */
  latch?: boolean;
  /** Also relay each received audio packet here, SSRC rewritten (the phone's audio into a mediasoup producer). */
  forward?: MixerForward;
  /**
   * SDES-SRTP on this socket (base64 master key || salt): what arrives is unprotected with the phone's key
   * (failures dropped), what legs send from the socket is protected with ours.
   */
  srtp?: { suite: SrtpSuite; inboundKey: string; outboundKey: string };
  /**
   * false: the source is never decoded nor mixed, only relayed (to `forward` and to relay legs), for a call
   * whose two ends share a codec; its DTMF is still reported. Default true.
   */
  mixed?: boolean;
}

/** Where a source's audio packets are relayed (a mediasoup producer), SSRC rewritten. */
export interface MixerForward {
  ip: string;
  port: number;
  ssrc: number;
  /** Stamp an RFC 6464 audio level under this one-byte extension id (G.711 sources). */
  audioLevelExtensionId?: number;
}

/** Per-source traffic, for media timeouts. */
export interface MixerSourceActivity {
  sourceId: string;
  packets: number;
  /** Milliseconds since the last packet; null before the first. */
  idleMs: number | null;
  /** Where packets come from (latched address), once known. */
  remote: { ip: string; port: number } | null;
  /** SRTP packets dropped (authentication, replay, malformed); they count nowhere else. */
  srtpDropped: number;
  /** Datagrams refused before the mixer: not RTP of a negotiated type, oversized, or from an address not latched. */
  rejected: number;
}

/** A leg as the main thread describes it. */
export interface MixerLegSpec {
  legId: string;
  codec: string;
  payloadType: number;
  clockRate: number;
  ptime?: number;
  ownSourceIds: string[];
  destination: { ip: string; port: number };
  dtmfPayloadType?: number;
  /**
   * Present: a relay leg, which forwards this source's packets untranscoded instead of hearing a mix
   * (null: no source yet; see `setRelaySource`).
   */
  relayFrom?: string | null;
  /** The SSRC of the leg's stream; random when absent (a mediasoup producer of it must know it). */
  ssrc?: number;
}

/** Timing and traffic counters of the mixer thread. */
export interface MixerStats extends MixEngineStats {
  /** Ticks that started more than the lateness threshold after their scheduled time. */
  lateTicks: number;
  /** Worst start delay of a tick, ms. */
  maxTickLatenessMs: number;
  /** Ticks dropped after a stall longer than the catch-up limit. */
  skippedTicks: number;
  packetsIn: number;
  sendErrors: number;
  /** SRTP packets dropped on receipt, all sources. */
  srtpDropped: number;
  /** Datagrams refused on receipt, all sources: not negotiated RTP, oversized, or not from the latched address. */
  rtpRejected: number;
  /** Packets relay legs sent untranscoded (audio and DTMF). */
  relayedPackets: number;
  /** Share of the worker's event loop spent busy, 0..1. */
  utilization: number;
}

/** Options fixed for a mixer thread's life. */
export interface MixerThreadOptions {
  /** Interface the thread binds its RTP sockets on. */
  bindAddress?: string;
  /** Fixed mix rate for every leg (see MixEngineOptions.mixRate). */
  mixRate?: number;
  jitterTargetMs?: number;
  adaptiveJitter?: boolean;
  /** A tick starting later than this counts as late. */
  lateThresholdMs?: number;
  /**
   * Ports a phone-facing socket (a source with its own `bindAddress`) binds in: the configured RTC range,
   * which a firewall in front of the server opens. Absent: any free port.
   */
  portRange?: { min: number; max: number };
}

/** Requests from the main thread; each carries an id answered by one reply. */
export type MixerRequest =
  | { id: number; op: 'addSource'; spec: MixerSourceSpec }
  | { id: number; op: 'removeSource'; sourceId: string }
  | { id: number; op: 'addLeg'; spec: MixerLegSpec }
  | { id: number; op: 'removeLeg'; legId: string }
  | { id: number; op: 'sendDtmf'; legId: string; digit: string; durationMs?: number }
  | { id: number; op: 'describeLeg'; legId: string }
  | { id: number; op: 'stats' }
  | { id: number; op: 'sourceActivity' }
  | { id: number; op: 'muteSource'; sourceId: string; muted: boolean }
  | { id: number; op: 'updateSource'; spec: MixerSourceSpec }
  | { id: number; op: 'playPrompt'; legId: string; samples: Int16Array; sampleRate: number }
  | { id: number; op: 'setLegIsolated'; legId: string; isolated: boolean }
  | { id: number; op: 'setForward'; sourceId: string; forward: MixerForward }
  | { id: number; op: 'setRelaySource'; legId: string; sourceId: string | null }
  | { id: number; op: 'close' };

/** Messages from the worker: replies to requests, or unsolicited events. */
export type MixerMessage =
  | { type: 'ready' }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: { name: string; message: string } }
  | { type: 'dtmf'; sourceId: string; event: DtmfEvent }
  | { type: 'error'; message: string };
