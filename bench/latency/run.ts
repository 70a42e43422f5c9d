/**
 * Added mouth-to-ear latency through the server, measured on loopback with the real media path:
 *
 *   phone → browser: the phone's RTP is relayed (untranscoded) into a mediasoup producer and forwarded
 *                    to a consumer. Each PCMU packet carries a counter; latency = sink arrival − send.
 *   browser → phone: an Opus producer is consumed into the room's mixer thread (decode, jitter buffer,
 *                    mix-minus, PCMU encode, 20 ms paced sender). Tone bursts over silence; latency =
 *                    arrival of the first loud packet at the phone − send time of the burst's first packet.
 *
 * Browsers and phones add their own playout buffers on top; this is what the server adds.
 *
 *   npx tsx bench/latency/run.ts [--jitter 60,40,20] [--adaptive] [--seconds 12]
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { negotiateOffer } from '../../sip-connector/calls/PhoneSdp.js';
import { RoomAudioBridge } from '../../sip-connector/calls/RoomAudioBridge.js';
import { G711Codec } from '../../sip-connector/media/G711Codec.js';
import { OpusCodec } from '../../sip-connector/media/OpusCodec.js';
import { RtpPacket } from '../../sip-connector/media/RtpPacket.js';
import { RoomRegistry } from '../../server/rooms/RoomRegistry.js';
import { WorkerPool } from '../../server/workers/WorkerPool.js';

const HOST = '127.0.0.1';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1]! : fallback;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const summary = (values: number[]) =>
  `n=${String(values.length).padStart(4)}  p50=${percentile(values, 50).toFixed(1).padStart(6)} ms  `
  + `p95=${percentile(values, 95).toFixed(1).padStart(6)} ms  max=${Math.max(...values).toFixed(1).padStart(6)} ms`;

async function udp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return socket;
}

async function measure(pool: WorkerPool, jitterTargetMs: number, adaptiveJitter: boolean, seconds: number): Promise<void> {
  const registry = new RoomRegistry(pool, { emptyTimeoutSeconds: 60, maxParticipants: 10 });
  const { room } = await registry.getOrCreate(`latency-${jitterTargetMs}`);
  const sockets: dgram.Socket[] = [];
  const bridge = await RoomAudioBridge.create(room, HOST, { jitterTargetMs, adaptiveJitter });
  try {
    // The browser side: an Opus producer in, a consumer of the phone out.
    const browser = room.join({ identity: 'browser', displayName: 'Browser', kind: 'webrtc' });
    const inbound = await room.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: HOST }, rtcpMux: true, comedia: true });
    browser.adoptTransport(inbound);
    await browser.produce(inbound.id, 'audio', {
      codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 777 }],
    }, 'mic');
    const browserOut = await udp();
    const browserSink = await udp();
    sockets.push(browserOut, browserSink);

    // The phone: a UDP socket that speaks PCMU.
    const phone = await udp();
    sockets.push(phone);
    const offer = ['v=0', `o=p 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0',
      `m=audio ${phone.address().port} RTP/AVP 0`, ''].join('\r\n');
    const negotiated = negotiateOffer(offer, ['PCMU']);
    const phonePort = await bridge.openPhone('phone', negotiated);
    const phoneParticipant = room.join({ identity: 'phone', displayName: 'Phone', kind: 'sip' });
    const phoneProducer = await bridge.admit('phone', phoneParticipant);
    const outbound = await room.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: HOST }, rtcpMux: true, comedia: false });
    await outbound.connect({ ip: HOST, port: browserSink.address().port });
    await outbound.consume({ producerId: phoneProducer.id, rtpCapabilities: room.router.rtpCapabilities });

    const phoneToBrowser: number[] = [];
    const sentAt = new Map<number, number>();
    browserSink.on('message', (data) => {
      const now = performance.now();
      const packet = RtpPacket.parse(data);
      if (packet.payload.length < 4) return;
      const counter = Buffer.from(packet.payload).readUInt32BE(0);
      const sent = sentAt.get(counter);
      if (sent !== undefined) phoneToBrowser.push(now - sent);
    });

    const browserToPhone: number[] = [];
    const g711 = new G711Codec('PCMU');
    const pcm = new Int16Array(160);
    let burstSentAt: number | null = null;
    phone.on('message', (data) => {
      const now = performance.now();
      const packet = RtpPacket.parse(data);
      if (packet.payloadType !== 0 || burstSentAt === null) return;
      g711.decode(packet.payload, pcm);
      let energy = 0;
      for (const sample of pcm) energy += sample * sample;
      if (Math.sqrt(energy / pcm.length) > 500) {
        browserToPhone.push(now - burstSentAt);
        burstSentAt = null;
      }
    });

    const opus = new OpusCodec({ sampleRate: 48000, channels: 1 });
    const opusOut = new Uint8Array(1500);
    const frame = new Int16Array(960);
    const silence = Buffer.alloc(160, 0xff);
    const start = performance.now();
    const frames = Math.round(seconds * 50);
    for (let i = 0; i < frames; i++) {
      // Absolute schedule, so the senders themselves do not drift.
      const due = start + i * 20;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      // Phone → browser: a counter in each packet's payload (opaque to the SFU, which relays it as is).
      const payload = Buffer.from(silence);
      payload.writeUInt32BE(i, 0);
      sentAt.set(i, performance.now());
      phone.send(RtpPacket.from({ payloadType: 0, sequenceNumber: i & 0xffff, timestamp: i * 160, ssrc: 4321, marker: i === 0,
        payload }).serialize(), phonePort, HOST);
      // Browser → phone: 100 ms of 1 kHz every 500 ms, silence otherwise.
      const inBurst = i % 25 < 5;
      for (let n = 0; n < frame.length; n++) frame[n] = inBurst ? Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (i * 960 + n)) / 48000)) : 0;
      const length = opus.encode(frame, frame.length, opusOut);
      if (i % 25 === 0 && i > 50) burstSentAt = performance.now();
      browserOut.send(RtpPacket.from({ payloadType: 100, sequenceNumber: i & 0xffff, timestamp: i * 960, ssrc: 777, marker: i === 0,
        payload: opusOut.subarray(0, length) }).serialize(), inbound.tuple.localPort, HOST);
    }
    await sleep(300);
    opus.close();
    const stats = await bridge.mixer.stats();
    console.log(`jitter target ${String(jitterTargetMs).padStart(3)} ms${adaptiveJitter ? ', adaptive' : ', fixed'}`);
    console.log(`  phone → browser (relay + SFU)                : ${summary(phoneToBrowser)}`);
    console.log(`  browser → phone (decode, jitter, mix, encode) : ${summary(browserToPhone)}`);
    console.log(`  mixer: late ticks ${stats.lateTicks}, worst tick lateness ${stats.maxTickLatenessMs.toFixed(1)} ms`);
  } finally {
    bridge.close();
    room.close();
    for (const socket of sockets) socket.close();
  }
}

async function main(): Promise<void> {
  const targets = argument('jitter', '60,40,20').split(',').map(Number).filter((n) => n > 0 && n <= 200);
  const seconds = Math.min(60, Math.max(3, Number(argument('seconds', '12'))));
  const pool = await WorkerPool.start({ numWorkers: 1, logLevel: 'error' });
  try {
    console.log(`added latency through the server, ${seconds} s per run, loopback`);
    const adaptive = process.argv.includes('--adaptive');
    for (const target of targets) await measure(pool, target, adaptive, seconds);
    console.log('goal: ≤ 40 ms p95 each way');
  } finally {
    pool.close();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
