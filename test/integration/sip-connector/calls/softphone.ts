import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { readWav, rms, type BaresipEvent, type DecodedWav } from '../../../support/baresip.js';
import { db, goertzel } from '../../../unit/sip-connector/media/support/goertzel.js';
import { scratchDir, spawnPeer, type Peer } from '../peers.js';

/**
 * A headless baresip like test/support/baresip.ts, with the codec and the SIP transport to choose: PCMU
 * sends an 8 kHz mono tone, Opus a 48 kHz stereo one (baresip's aufile source must match the codec's rate
 * and channels). It records what it hears through the sndfile module and is driven over ctrl_tcp.
 */
export interface SoftphoneOptions {
  user: string;
  /** SIP listen port for UDP and TCP (baresip also takes the next one for TLS). */
  sipPort: number;
  ctrlPort: number;
  /** First of 20 RTP ports. */
  rtpPortMin: number;
  toneHz: number;
  codec: 'PCMU' | 'opus';
  transport: 'udp' | 'tcp';
  lifetimeMs: number;
}

/** One tone's level in a recording window; `db` compares two of them. */
export interface ToneLevels {
  rms: number;
  sampleRate: number;
  tones: Record<number, number>;
}

export class Softphone {
  readonly events: BaresipEvent[] = [];
  #ctrl: net.Socket | null = null;
  #inbox = '';

  private constructor(readonly options: SoftphoneOptions, readonly dir: string, readonly recordDir: string, readonly peer: Peer) {}

  static async start(options: SoftphoneOptions): Promise<Softphone> {
    const dir = scratchDir(`softphone-${options.user}`);
    const recordDir = join(dir, 'recordings');
    mkdirSync(recordDir);
    const opus = options.codec === 'opus';
    const wav = join(dir, 'tone.wav');
    // aufile hangs the call up when its file ends: the tone outlasts the phone.
    writeTone(wav, options.toneHz, opus ? 48000 : 8000, opus ? 2 : 1, Math.ceil(options.lifetimeMs / 1000) + 30);
    writeFileSync(join(dir, 'config'), [
      'poll_method\t\tepoll',
      `sip_listen\t\t127.0.0.1:${options.sipPort}`,
      'call_local_timeout\t120',
      'call_max_calls\t\t4',
      'audio_player\t\talsa,null',
      `audio_source\t\taufile,${wav}`,
      'audio_alert\t\talsa,null',
      'audio_level\t\tno',
      `rtp_ports\t\t${options.rtpPortMin}-${options.rtpPortMin + 19}`,
      'net_interface\t\t127.0.0.1',
      'dns_server\t\t127.0.0.1:53',
      'module_path\t\t/usr/lib/baresip/modules',
      opus ? 'module\t\t\topus.so' : 'module\t\t\tg711.so',
      'module\t\t\taufile.so',
      'module\t\t\talsa.so',
      'module\t\t\tsndfile.so',
      'module_app\t\taccount.so',
      'module_app\t\tmenu.so',
      'module_app\t\tctrl_tcp.so',
      `ctrl_tcp_listen\t\t127.0.0.1:${options.ctrlPort}`,
      `snd_path\t\t${recordDir}`,
      '',
    ].join('\n'));
    const transport = options.transport === 'tcp' ? ';transport=tcp' : '';
    // baresip wants Opus spelled with its rate and channels; a bare "opus" matches nothing.
    const codecs = opus ? 'opus/48000/2' : 'PCMU';
    writeFileSync(join(dir, 'accounts'),
      `<sip:${options.user}@127.0.0.1:${options.sipPort}${transport}>;regint=0;answermode=auto;audio_codecs=${codecs}\n`);
    writeFileSync(join(dir, 'contacts'), '');
    const peer = spawnPeer('baresip', ['-f', dir], { timeoutMs: options.lifetimeMs });
    const phone = new Softphone(options, dir, recordDir, peer);
    try {
      await phone.#connect();
    } catch (error) {
      await peer.stop();
      throw error;
    }
    return phone;
  }

  async #connect(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        this.#ctrl = await new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(this.options.ctrlPort, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`baresip ${this.options.user}: ctrl_tcp not reachable\n${this.peer.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.#ctrl.on('error', () => undefined);
    this.#ctrl.on('data', (data: Buffer) => this.#onData(data.toString('utf8')));
  }

  /** ctrl_tcp frames are netstrings holding JSON: `<length>:<json>,`. */
  #onData(text: string): void {
    this.#inbox += text;
    for (;;) {
      const colon = this.#inbox.indexOf(':');
      if (colon < 0) return;
      const length = Number(this.#inbox.slice(0, colon));
      if (!Number.isInteger(length) || this.#inbox.length < colon + 2 + length) return;
      const json = this.#inbox.slice(colon + 1, colon + 1 + length);
      this.#inbox = this.#inbox.slice(colon + 2 + length);
      try {
        const message = JSON.parse(json) as { event?: boolean; type?: string; param?: string };
        if (message.event && message.type) this.events.push({ type: message.type, param: message.param ?? '', at: Date.now() });
      } catch {
        // Not JSON: nothing about calls.
      }
    }
  }

  #command(command: string, params = ''): void {
    const json = JSON.stringify({ command, params, token: String(Date.now()) });
    this.#ctrl?.write(`${Buffer.byteLength(json)}:${json},`);
  }

  /** Places a call; events count from here on. */
  dial(uri: string): void {
    this.events.length = 0;
    this.#command('dial', uri);
  }

  hangup(): void {
    this.#command('hangup');
  }

  get inCall(): boolean {
    return this.events.length > 0 && !this.events.some((event) => event.type === 'CALL_CLOSED');
  }

  /** Hangs up a call a failed assertion left up. */
  async ensureHungUp(): Promise<void> {
    if (!this.inCall) return;
    this.hangup();
    await this.waitForEvent('CALL_CLOSED', 5_000).catch(() => undefined);
  }

  async waitForEvent(type: string, timeoutMs = 10_000): Promise<BaresipEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => event.type === type);
      if (found) return found;
      if (this.peer.proc.exitCode !== null || this.peer.proc.signalCode !== null) {
        throw new Error(`baresip ${this.options.user} exited before ${type}\n${this.peer.output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`baresip ${this.options.user}: no ${type} within ${timeoutMs} ms; events ${JSON.stringify(this.events)}\n${this.peer.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * What the phone heard in its last call (sndfile's `-dec.wav`). baresip reports CALL_CLOSED before the
   * recorder has written its last buffers, so the file is read once its size has stopped changing.
   */
  async lastRecording(): Promise<DecodedWav> {
    const files = readdirSync(this.recordDir).filter((name) => name.endsWith('-dec.wav')).sort();
    if (files.length === 0) throw new Error(`baresip ${this.options.user} recorded nothing\n${this.peer.output()}`);
    const file = join(this.recordDir, files.at(-1)!);
    let size = -1;
    for (const deadline = Date.now() + 3000; Date.now() < deadline;) {
      const now = statSync(file).size;
      if (now === size) break;
      size = now;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return readWav(file);
  }

  async stop(): Promise<void> {
    this.#ctrl?.destroy();
    await this.peer.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 16-bit WAV of a sine at amplitude 0.3, the same in every channel. */
function writeTone(file: string, frequencyHz: number, sampleRate: number, channels: number, seconds: number): void {
  const frames = sampleRate * seconds;
  const bytes = frames * channels * 2;
  const wav = Buffer.alloc(44 + bytes);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + bytes, 4);
  wav.write('WAVEfmt ', 8, 'ascii');
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(channels, 22);
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * channels * 2, 28);
  wav.writeUInt16LE(channels * 2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(bytes, 40);
  for (let i = 0; i < frames; i++) {
    const value = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
    for (let c = 0; c < channels; c++) wav.writeInt16LE(value, 44 + (i * channels + c) * 2);
  }
  writeFileSync(file, wav);
}

/**
 * Tone levels in a window ending `tailSeconds` before the recording's end: the median over 250 ms pieces,
 * so one concealed packet cannot cancel a tone out of the whole window.
 */
export function toneLevels(wav: DecodedWav, frequencies: number[], windowSeconds = 2, tailSeconds = 0.3): ToneLevels {
  const end = wav.samples.length - Math.round(tailSeconds * wav.sampleRate);
  const start = end - Math.round(windowSeconds * wav.sampleRate);
  if (start < 0) throw new Error(`recording too short: ${(wav.samples.length / wav.sampleRate).toFixed(2)} s`);
  const window = wav.samples.subarray(start, end);
  const piece = Math.round(wav.sampleRate / 4);
  const tones: Record<number, number> = {};
  for (const frequency of frequencies) {
    const levels: number[] = [];
    for (let at = 0; at + piece <= window.length; at += piece) levels.push(goertzel(window.subarray(at, at + piece), wav.sampleRate, frequency));
    levels.sort((a, b) => a - b);
    tones[frequency] = levels[Math.floor(levels.length / 2)]!;
  }
  return { rms: rms(window), sampleRate: wav.sampleRate, tones };
}

export { db };

/**
 * Established TCP connections with local port `port` in this network namespace (read from /proc, Linux):
 * for the server's SIP TCP port, the connections phones hold to it.
 */
export function establishedTcpOn(port: number): number {
  let count = 0;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns.length < 4) continue;
      const localPort = parseInt(columns[1]!.split(':')[1] ?? '', 16);
      // State 01 is ESTABLISHED.
      if (localPort === port && columns[3] === '01') count++;
    }
  }
  return count;
}
