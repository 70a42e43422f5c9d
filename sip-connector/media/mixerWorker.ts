import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { MediaConfigError } from './MediaConfigError.js';
import { AudioLevelStamp } from './AudioLevelStamp.js';
import { DtmfDetector } from './DtmfDetector.js';
import { MixEngine } from './MixEngine.js';
import { MixerClock } from './MixerClock.js';
import { RtpPacket } from './RtpPacket.js';
import { RtpRelayLeg } from './RtpRelayLeg.js';
import { isNegotiatedRtp, RtpSourceLatch } from './RtpSourceLatch.js';
import { RtpStreamContinuity } from './RtpStreamContinuity.js';
import { SrtpContext } from './SrtpContext.js';
import type { DtmfEvent } from './DtmfDetector.js';
import type {
  MixerForward, MixerLegSpec, MixerMessage, MixerRequest, MixerSourceActivity, MixerSourceSpec, MixerStats, MixerThreadOptions,
} from './mixerProtocol.js';

// Worker entry: owns the RTP sockets and the 20 ms clock, so the main thread's signalling work can never
// delay a mixer tick and a mixer tick can never delay signalling.

const port = parentPort;
if (!port) throw new Error('mixerWorker must run inside a worker thread');
const options = ((workerData as { options?: MixerThreadOptions } | null)?.options ?? {}) as MixerThreadOptions;
const bindAddress = options.bindAddress ?? '127.0.0.1';

const sockets = new Map<string, dgram.Socket>();
/** The current spec of each source: a re-negotiation may change its codec on the same socket. */
const specs = new Map<string, MixerSourceSpec>();
const relays = new Map<string, { socket: dgram.Socket; ip: string; port: number; ssrc: number; levels: AudioLevelStamp | null;
  continuity: RtpStreamContinuity }>();
const legRoutes = new Map<string, { ip: string; port: number; viaSource: string | null }>();
/** Per source: packet count, last arrival, the latched address packets come from, and what was refused. */
interface SourceTraffic {
  packets: number;
  lastAt: number | null;
  /** Send the source's legs where its packets come from (symmetric RTP). */
  latch: boolean;
  source: RtpSourceLatch;
  srtpDropped: number;
  rejected: number;
}
const activity = new Map<string, SourceTraffic>();
/** SDES-SRTP sources: the phone's key unprotects what arrives, ours protects what legs send from the socket. */
const srtpContexts = new Map<string, { inbound: SrtpContext; inboundKey: string; outbound: SrtpContext; outboundKey: string }>();
/** A source that is only relayed, never decoded: its key presses are read here, not by the engine. */
interface UnmixedSource {
  detector: DtmfDetector | null;
  muted: boolean;
}
const unmixed = new Map<string, UnmixedSource>();
/** Legs forwarding one source untranscoded, and by source the legs forwarding it. */
const relayLegs = new Map<string, RtpRelayLeg>();
const relayTargets = new Map<string, Set<RtpRelayLeg>>();
/** Relay legs with key presses to play, ticked every 20 ms until they are done. */
const relayDtmf = new Set<RtpRelayLeg>();
let sharedSocket: dgram.Socket | null = null;
let packetsIn = 0;
let relayedPackets = 0;
let sendErrors = 0;
let srtpDropped = 0;
let rtpRejected = 0;
const eluStart = performance.eventLoopUtilization();

function post(message: MixerMessage): void {
  port?.postMessage(message);
}

const onSendDone = (error: Error | null): void => {
  if (error) sendErrors++;
};

/** Sends one of a leg's datagrams to its phone. */
function sendToLeg(legId: string, datagram: Buffer): void {
  const route = legRoutes.get(legId);
  if (!route) return;
  // Send from the phone's own receive port when it has one: symmetric RTP, which NATed phones expect.
  const socket = (route.viaSource !== null ? sockets.get(route.viaSource) : undefined) ?? sharedSocket;
  if (!socket) return;
  // Symmetric RTP: once a latching source has been heard, answer where its packets come from.
  const latched = route.viaSource !== null ? activity.get(route.viaSource) : undefined;
  const target = (latched?.latch ? latched.source.remote : null) ?? route;
  const srtp = route.viaSource !== null ? srtpContexts.get(route.viaSource) : undefined;
  let packet = datagram;
  if (srtp) {
    try {
      packet = srtp.outbound.protect(datagram);
    } catch {
      sendErrors++;
      return;
    }
  }
  socket.send(packet, target.port, target.ip, onSendDone);
}

const reportDtmf = (sourceId: string, event: DtmfEvent): void => post({ type: 'dtmf', sourceId, event });

const engine = new MixEngine(sendToLeg, reportDtmf,
  { mixRate: options.mixRate, jitterTargetMs: options.jitterTargetMs, adaptiveJitter: options.adaptiveJitter });

/** Unmixed sources whose key press is in progress: polled every tick until it ends. */
const activeDetectors = new Set<DtmfDetector>();

function tick(now: number): void {
  engine.tick(now);
  for (const detector of activeDetectors) {
    detector.poll(now);
    if (!detector.active) activeDetectors.delete(detector);
  }
  for (const leg of relayDtmf) {
    const packet = leg.tick(now);
    if (packet === null) relayDtmf.delete(leg);
    else {
      relayedPackets++;
      sendToLeg(leg.legId, packet);
    }
  }
  // A thread of relayed calls only has work on packets: its clock sleeps until a mix or a key press needs it.
  if (engine.idle && relayDtmf.size === 0 && activeDetectors.size === 0) clock.stop();
}

const clock = new MixerClock(tick, 20, options.lateThresholdMs ?? 10);

/** Starts the clock again when something needs ticking. */
function wake(): void {
  if (!clock.running) clock.start();
}

function bindSocket(address = bindAddress, port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1 << 20 });
    // A port that is taken fails the bind: the socket's descriptor is given back at once, not kept open unbound.
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      // A send error (e.g. unreachable destination) must not kill the worker.
      socket.on('error', () => {
        sendErrors++;
      });
      resolve(socket);
    });
  });
}

/** Binds a phone-facing socket on a free port of the RTC range (random tries, then each port in turn). */
async function bindInRange(address: string, range: { min: number; max: number }): Promise<dgram.Socket> {
  const size = range.max - range.min + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    try {
      return await bindSocket(address, range.min + ((start + i) % size));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new MediaConfigError(`no free UDP port in ${range.min}-${range.max} on ${address}`);
}

/**
 * Keys (or re-keys) a source for SDES-SRTP. A direction whose key and suite are unchanged keeps its context: its
 * rollover counters and replay window must survive a re-negotiation that kept the key.
 */
function setSrtp(sourceId: string, srtp: MixerSourceSpec['srtp']): void {
  if (!srtp) return;
  const current = srtpContexts.get(sourceId);
  srtpContexts.set(sourceId, {
    inbound: current?.inboundKey === srtp.inboundKey && current.inbound.suite === srtp.suite
      ? current.inbound : SrtpContext.fromBase64(srtp.suite, srtp.inboundKey),
    inboundKey: srtp.inboundKey,
    outbound: current?.outboundKey === srtp.outboundKey && current.outbound.suite === srtp.suite
      ? current.outbound : SrtpContext.fromBase64(srtp.suite, srtp.outboundKey),
    outboundKey: srtp.outboundKey,
  });
}

async function addSource(spec: MixerSourceSpec): Promise<number> {
  if (sockets.has(spec.sourceId)) throw new MediaConfigError(`source ${spec.sourceId} exists`);
  // Keyed before the socket exists, so that no packet is ever taken in the clear; bad keys fail here.
  setSrtp(spec.sourceId, spec.srtp);
  takeSource(spec);
  let socket: dgram.Socket;
  try {
    socket = spec.bindAddress && options.portRange ? await bindInRange(spec.bindAddress, options.portRange) : await bindSocket(spec.bindAddress);
  } catch (error) {
    dropSource(spec.sourceId);
    srtpContexts.delete(spec.sourceId);
    throw error;
  }
  const id = spec.sourceId;
  const seen: SourceTraffic = {
    packets: 0, lastAt: null, latch: spec.latch === true, source: new RtpSourceLatch(), srtpDropped: 0, rejected: 0,
  };
  activity.set(id, seen);
  socket.on('message', (datagram, rinfo) => {
    // Junk, RTCP, other payload types and oversized datagrams never reach the mixer or the relay, and do not
    // count as traffic: they can neither keep a dead call alive nor move the latch.
    const current = specs.get(id);
    const types = current ? [current.payloadType, ...(current.dtmfPayloadType !== undefined ? [current.dtmfPayloadType] : [])] : [];
    if (!isNegotiatedRtp(datagram, types)) {
      rtpRejected++;
      seen.rejected++;
      return;
    }
    // An SRTP packet that fails authentication or replay checks is no traffic at all either, so a forger
    // can neither hijack the media nor be heard.
    let msg: Buffer = datagram;
    const srtp = srtpContexts.get(id);
    if (srtp) {
      try {
        msg = srtp.inbound.unprotect(datagram);
      } catch {
        srtpDropped++;
        seen.srtpDropped++;
        return;
      }
    }
    const now = performance.now();
    if (!seen.source.admit(rinfo.address, rinfo.port, now)) {
      rtpRejected++;
      seen.rejected++;
      return;
    }
    packetsIn++;
    seen.packets++;
    seen.lastAt = now;
    // Only the negotiated audio type is relayed; DTMF stays with the mixer.
    const relay = relays.get(id);
    if (relay && (msg[1]! & 0x7f) === current!.payloadType) {
      const copy = Buffer.from(msg);
      relay.continuity.rewrite(copy, now);
      copy.writeUInt32BE(relay.ssrc >>> 0, 8);
      relay.socket.send(relay.levels ? relay.levels.stamp(copy) : copy, relay.port, relay.ip, onSendDone);
    }
    const relayOnly = unmixed.get(id);
    if (relayOnly) relayPacket(id, current!, relayOnly, msg, now);
    else engine.receive(id, msg, now);
  });
  sockets.set(id, socket);
  specs.set(id, spec);
  if (spec.forward) await setForward(id, spec.forward);
  return socket.address().port;
}

/** Gives a source to the engine (decoded, mixed) or, unmixed, to the relay legs and a DTMF detector of its own. */
function takeSource(spec: MixerSourceSpec): void {
  if (spec.mixed === false) {
    const sourceId = spec.sourceId;
    const detector = spec.dtmfPayloadType === undefined ? null : new DtmfDetector(spec.clockRate, (event) => reportDtmf(sourceId, event));
    unmixed.set(sourceId, { detector, muted: false });
  } else {
    engine.addSource({ sourceId: spec.sourceId, codec: spec.codec, payloadType: spec.payloadType,
      clockRate: spec.clockRate, channels: spec.channels, dtmfPayloadType: spec.dtmfPayloadType });
    wake();
  }
}

function dropSource(sourceId: string): boolean {
  const relayOnly = unmixed.get(sourceId);
  if (relayOnly) {
    if (relayOnly.detector) activeDetectors.delete(relayOnly.detector);
    unmixed.delete(sourceId);
    return true;
  }
  return engine.removeSource(sourceId);
}

/** An unmixed source's packet: key presses to its detector, audio as it is to every relay leg forwarding it. */
function relayPacket(sourceId: string, spec: MixerSourceSpec, source: UnmixedSource, msg: Buffer, now: number): void {
  const payloadType = msg[1]! & 0x7f;
  if (spec.dtmfPayloadType === payloadType) {
    if (!source.detector) return;
    try {
      source.detector.push(RtpPacket.parse(msg), now);
    } catch {
      // Malformed: counted nowhere else, dropped like any other junk.
    }
    if (source.detector.active) {
      activeDetectors.add(source.detector);
      wake();
    }
    return;
  }
  if (source.muted || spec.payloadType !== payloadType) return;
  const legs = relayTargets.get(sourceId);
  if (!legs) return;
  for (const leg of legs) {
    const out = leg.relay(msg, now);
    if (out === null) continue;
    relayedPackets++;
    sendToLeg(leg.legId, out);
  }
}

/** Points a relay leg at a source (or at none). */
function setRelaySource(legId: string, sourceId: string | null): void {
  const leg = relayLegs.get(legId);
  if (!leg) throw new MediaConfigError(`no relay leg ${legId}`);
  if (sourceId !== null && !unmixed.has(sourceId)) throw new MediaConfigError(`source ${sourceId} is not an unmixed source`);
  if (leg.sourceId !== null) relayTargets.get(leg.sourceId)?.delete(leg);
  leg.sourceId = sourceId;
  if (sourceId === null) return;
  let legs = relayTargets.get(sourceId);
  if (!legs) relayTargets.set(sourceId, legs = new Set());
  legs.add(leg);
}

function removeRelayLeg(legId: string): boolean {
  const leg = relayLegs.get(legId);
  if (!leg) return false;
  if (leg.sourceId !== null) relayTargets.get(leg.sourceId)?.delete(leg);
  relayLegs.delete(legId);
  relayDtmf.delete(leg);
  return true;
}

/** Starts (or retargets) relaying a source's audio packets, e.g. once the phone is admitted to the room. */
async function setForward(sourceId: string, forward: MixerForward): Promise<void> {
  if (!sockets.has(sourceId)) throw new MediaConfigError(`unknown source ${sourceId}`);
  // The relay goes out of a loopback socket of its own: mediasoup's comedia transport latches onto it.
  const socket = relays.get(sourceId)?.socket ?? await bindSocket('127.0.0.1');
  // G.711 phones send no audio level; stamping it lets the SFU's active-speaker detection hear them.
  const codec = specs.get(sourceId)?.codec.toUpperCase();
  const levels = forward.audioLevelExtensionId && (codec === 'PCMU' || codec === 'PCMA')
    ? new AudioLevelStamp(codec, forward.audioLevelExtensionId) : null;
  const continuity = relays.get(sourceId)?.continuity ?? new RtpStreamContinuity(specs.get(sourceId)?.clockRate ?? 8000);
  relays.set(sourceId, { socket, ip: forward.ip, port: forward.port, ssrc: forward.ssrc, levels, continuity });
}

/** Re-creates a source's decode pipeline for a new codec, keeping its socket, relay and traffic counters. */
function updateSource(spec: MixerSourceSpec): void {
  if (!sockets.has(spec.sourceId)) throw new MediaConfigError(`unknown source ${spec.sourceId}`);
  const wasMixed = !unmixed.has(spec.sourceId);
  if (wasMixed) engine.removeSource(spec.sourceId);
  takeSource({ ...spec, mixed: spec.mixed ?? wasMixed });
  setSrtp(spec.sourceId, spec.srtp);
  specs.set(spec.sourceId, { ...specs.get(spec.sourceId), ...spec });
}

function sourceActivity(): MixerSourceActivity[] {
  const now = performance.now();
  return [...activity].map(([sourceId, seen]) => ({
    sourceId, packets: seen.packets, idleMs: seen.lastAt === null ? null : Math.round(now - seen.lastAt), remote: seen.source.remote,
    srtpDropped: seen.srtpDropped, rejected: seen.rejected,
  }));
}

function removeSource(sourceId: string): boolean {
  const socket = sockets.get(sourceId);
  relays.get(sourceId)?.socket.close();
  relays.delete(sourceId);
  activity.delete(sourceId);
  srtpContexts.delete(sourceId);
  specs.delete(sourceId);
  sockets.delete(sourceId);
  socket?.close();
  for (const leg of relayTargets.get(sourceId) ?? []) leg.sourceId = null;
  relayTargets.delete(sourceId);
  return dropSource(sourceId);
}

async function addLeg(spec: MixerLegSpec): Promise<void> {
  const viaSource = spec.ownSourceIds.find((id) => sockets.has(id)) ?? null;
  // A leg without a socket of its own (no phone source) sends from one the thread shares.
  if (viaSource === null) sharedSocket ??= await bindSocket();
  if (legRoutes.has(spec.legId)) throw new MediaConfigError(`leg ${spec.legId} exists`);
  if (spec.relayFrom !== undefined) {
    relayLegs.set(spec.legId, new RtpRelayLeg({ legId: spec.legId, codec: spec.codec, payloadType: spec.payloadType,
      clockRate: spec.clockRate, ptimeMs: spec.ptime, dtmfPayloadType: spec.dtmfPayloadType }));
    try {
      setRelaySource(spec.legId, spec.relayFrom);
    } catch (error) {
      removeRelayLeg(spec.legId);
      throw error;
    }
  } else {
    engine.addLeg({ legId: spec.legId, codec: spec.codec, payloadType: spec.payloadType,
      clockRate: spec.clockRate, ptimeMs: spec.ptime, ownSourceIds: spec.ownSourceIds,
      dtmfPayloadType: spec.dtmfPayloadType, ...(spec.ssrc !== undefined ? { ssrc: spec.ssrc } : {}) });
    wake();
  }
  legRoutes.set(spec.legId, { ip: spec.destination.ip, port: spec.destination.port, viaSource });
}

function stats(): MixerStats {
  const c = clock.stats;
  return { ...engine.stats(), lateTicks: c.lateTicks, maxTickLatenessMs: c.maxLatenessMs,
    skippedTicks: c.skippedTicks, packetsIn, sendErrors, srtpDropped, rtpRejected, relayedPackets,
    utilization: performance.eventLoopUtilization(eluStart).utilization };
}

function close(): void {
  clock.stop();
  engine.close();
  for (const socket of [...sockets.values(), ...[...relays.values()].map((relay) => relay.socket)]) socket.close();
  sockets.clear();
  relays.clear();
  relayLegs.clear();
  relayTargets.clear();
  relayDtmf.clear();
  unmixed.clear();
  sharedSocket?.close();
  sharedSocket = null;
}

function sendDtmf(legId: string, digit: string, durationMs?: number): void {
  const leg = relayLegs.get(legId);
  if (!leg) {
    engine.sendDtmf(legId, digit, durationMs);
    return;
  }
  leg.sendDtmf(digit, durationMs);
  relayDtmf.add(leg);
  wake();
}

function muteSource(sourceId: string, muted: boolean): void {
  const source = unmixed.get(sourceId);
  if (source) source.muted = muted;
  else engine.setSourceMuted(sourceId, muted);
}

/** Prompts and isolation belong to mixed legs: a relay leg carries its source's packets only. */
function mixedLeg(legId: string): void {
  if (relayLegs.has(legId)) throw new MediaConfigError(`leg ${legId} relays untranscoded: it cannot play prompts`);
}

async function handle(request: MixerRequest): Promise<unknown> {
  switch (request.op) {
    case 'addSource': return addSource(request.spec);
    case 'removeSource': return removeSource(request.sourceId);
    case 'addLeg': return addLeg(request.spec);
    case 'removeLeg': legRoutes.delete(request.legId); return removeRelayLeg(request.legId) || engine.removeLeg(request.legId);
    case 'sendDtmf': sendDtmf(request.legId, request.digit, request.durationMs); return null;
    case 'describeLeg': return relayLegs.get(request.legId)?.describe() ?? engine.pipelineOf(request.legId).describe();
    case 'stats': return stats();
    case 'sourceActivity': return sourceActivity();
    case 'updateSource': updateSource(request.spec); return null;
    case 'playPrompt': mixedLeg(request.legId); engine.playPrompt(request.legId, request.samples, request.sampleRate); return null;
    case 'setLegIsolated': mixedLeg(request.legId); engine.setLegIsolated(request.legId, request.isolated); return null;
    case 'setForward': await setForward(request.sourceId, request.forward); return null;
    case 'setRelaySource': setRelaySource(request.legId, request.sourceId); return null;
    case 'muteSource': muteSource(request.sourceId, request.muted); return null;
    case 'close': close(); return null;
  }
}

port.on('message', (request: MixerRequest) => {
  handle(request).then(
    (value) => post({ type: 'reply', id: request.id, ok: true, value }),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      post({ type: 'reply', id: request.id, ok: false, error: { name: e.name, message: e.message } });
    },
  );
});

clock.start();
post({ type: 'ready' });
