import { Counter, Gauge, type Registry } from 'prom-client';
import type { types } from 'mediasoup';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';

/** One participant's media in one direction and kind, summed over its streams. */
interface MediaSample {
  labels: { room: string; participant: string; kind: string; direction: 'in' | 'out' };
  bitrate: number;
  packetsLost: number;
  nacks: number;
  keyFrameRequests: number;
  /** The worst of its streams' scores (0-10). */
  score: number;
  /** The largest jitter (seconds) and round-trip time (seconds) of its streams, when known. */
  jitter: number | null;
  rtt: number | null;
}

type StreamStats = { type: string; bitrate: number; packetsLost: number; nackCount: number; pliCount: number; firCount: number; score: number;
  jitter?: number; roundTripTime?: number };

/** Adds a stream's stats to its participant's sample for that kind and direction. */
function add(samples: Map<string, MediaSample>, labels: MediaSample['labels'], stats: StreamStats, clockRate: number): void {
  const key = `${labels.room}|${labels.participant}|${labels.kind}|${labels.direction}`;
  const sample = samples.get(key) ?? { labels, bitrate: 0, packetsLost: 0, nacks: 0, keyFrameRequests: 0, score: 10, jitter: null, rtt: null };
  sample.bitrate += stats.bitrate;
  sample.packetsLost += Math.max(0, stats.packetsLost);
  sample.nacks += stats.nackCount;
  sample.keyFrameRequests += stats.pliCount + stats.firCount;
  sample.score = Math.min(sample.score, stats.score);
  if (stats.jitter !== undefined && clockRate > 0) sample.jitter = Math.max(sample.jitter ?? 0, stats.jitter / clockRate);
  if (stats.roundTripTime !== undefined && stats.roundTripTime > 0) sample.rtt = Math.max(sample.rtt ?? 0, stats.roundTripTime / 1000);
  samples.set(key, sample);
}

/** mediasoup's stats of every producer (what a participant sends us: `in`) and consumer (what we send it: `out`). */
async function collectMedia(rooms: RoomRegistry): Promise<MediaSample[]> {
  const samples = new Map<string, MediaSample>();
  const reads: Array<Promise<void>> = [];
  const clockOf = (parameters: types.RtpParameters) => parameters.codecs[0]?.clockRate ?? 0;
  for (const room of rooms.list()) {
    for (const participant of room.participants) {
      for (const producer of participant.producers.values()) {
        reads.push(producer.getStats().then((all) => {
          for (const stats of all) add(samples, { room: room.name, participant: participant.id, kind: producer.kind, direction: 'in' }, stats, clockOf(producer.rtpParameters));
        }, () => undefined));
      }
      for (const consumer of participant.consumers.values()) {
        reads.push(consumer.getStats().then((all) => {
          // The outbound stream is ours; the other entry, when present, is the producer's (counted with it).
          const sent = all.find((stats) => stats.type === 'outbound-rtp');
          if (sent) add(samples, { room: room.name, participant: participant.id, kind: consumer.kind, direction: 'out' }, sent, clockOf(consumer.rtpParameters));
        }, () => undefined));
      }
    }
  }
  await Promise.all(reads);
  return [...samples.values()];
}

/**
 * Media quality per room, participant, kind and direction, from mediasoup's RTP stream stats at scrape time:
 * bitrate, score, loss, jitter, round-trip time, NACKs and key-frame requests. One stats round per scrape,
 * shared by every family.
 */
export function registerMediaMetrics(registry: Registry, rooms: RoomRegistry): void {
  let snapshot: { at: number; samples: Promise<MediaSample[]> } | null = null;
  const current = () => {
    if (!snapshot || performance.now() - snapshot.at > 500) snapshot = { at: performance.now(), samples: collectMedia(rooms) };
    return snapshot.samples;
  };
  const labelNames = ['room', 'participant', 'kind', 'direction'] as const;
  const family = (kind: 'gauge' | 'counter', name: string, help: string, pick: (sample: MediaSample) => number | null) => {
    const collect = async function (this: Gauge | Counter) {
      this.reset();
      for (const sample of await current()) {
        const value = pick(sample);
        if (value === null) continue;
        if (this instanceof Counter) this.inc(sample.labels, value);
        else this.set(sample.labels, value);
      }
    };
    if (kind === 'gauge') new Gauge({ name, help, labelNames, registers: [registry], collect });
    else new Counter({ name, help, labelNames, registers: [registry], collect });
  };
  family('gauge', 'conflux_media_bitrate_bps', 'Bitrate of a participant\'s media (in: it sends us; out: we send it)', (s) => s.bitrate);
  family('gauge', 'conflux_media_score', 'Quality score of its worst stream, 0-10 (mediasoup\'s, from loss and RTCP)', (s) => s.score);
  family('gauge', 'conflux_media_jitter_seconds', 'Largest interarrival jitter of its incoming streams', (s) => s.jitter);
  family('gauge', 'conflux_media_rtt_seconds', 'Largest round-trip time of its streams, from RTCP', (s) => s.rtt);
  family('counter', 'conflux_media_packets_lost_total', 'RTP packets lost', (s) => s.packetsLost);
  family('counter', 'conflux_media_nacks_total', 'NACKs (retransmission requests)', (s) => s.nacks);
  family('counter', 'conflux_media_key_frame_requests_total', 'PLI and FIR key-frame requests', (s) => s.keyFrameRequests);
}
