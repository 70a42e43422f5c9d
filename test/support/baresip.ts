import { expect } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { scratchDir, spawnPeer, type Peer } from '../integration/sip-connector/peers.js';
import { db, goertzel } from '../unit/sip-connector/media/support/goertzel.js';
import { writeToneWav } from './toneWav.js';

export interface BaresipPhoneOptions {
  /** SIP user of the account, also the caller number the server sees. */
  user: string;
  /** SIP listen port, for UDP and TCP (baresip also takes the next port for SIP over TLS). */
  sipPort: number;
  ctrlPort: number;
  /** First of 20 RTP ports. */
  rtpPortMin: number;
  /** Frequency of the tone the phone sends. */
  toneHz: number;
  /** Peak amplitude of that tone, 0..1 of full scale; 0.3 by default. */
  toneAmplitude?: number;
  /** How long the phone may live; it is killed after that. */
  lifetimeMs: number;
  /**
   * The one audio codec of the account: PCMU (8 kHz mono tone, the default), G.722 (16 kHz mono tone) or
   * Opus (48 kHz stereo tone).
   */
  codec?: 'PCMU' | 'G722' | 'opus';
  /** SIP transport of the account's calls; UDP by default. */
  transport?: 'udp' | 'tcp';
  /** SDES-SRTP required on its calls (the srtp module, `mediaenc=srtp-mand`); plain RTP by default. */
  srtp?: boolean;
  /** Print SIP messages to the output (baresip -s), e.g. to look at the SDP it got. */
  sipTrace?: boolean;
  /**
   * Register the account at a registrar on 127.0.0.1 with digest credentials (user and `password`) every
   * `intervalSeconds`; such a phone does not answer calls by itself. By default the account is the phone's
   * own address, never registers and answers every call.
   */
  registrar?: { port: number; password: string; intervalSeconds: number; autoAnswer?: boolean };
  /** Record what it hears (the sndfile module); true by default. */
  record?: boolean;
}

/** One ctrl_tcp event, e.g. `{ type: 'CALL_ESTABLISHED', param: 'sip:…' }`. */
export interface BaresipEvent {
  type: string;
  param: string;
  at: number;
}

/** Mono 16-bit samples of a WAV, scaled to ±1. */
export interface DecodedWav {
  sampleRate: number;
  samples: Float32Array;
}

/** Tone levels in a recording window; `db` compares two of them. */
export interface ToneLevels {
  rms: number;
  sampleRate: number;
  /** Amplitude per frequency, full scale = 1: the median over 250 ms pieces of the window. */
  tones: Record<number, number>;
}

const MODULE_PATH = '/usr/lib/baresip/modules';

/**
 * A headless baresip softphone. It sends a sine tone from a WAV matching its codec (8 kHz mono for PCMU,
 * 16 kHz mono for G.722, 48 kHz stereo for Opus: baresip's aufile source must match the codec's rate and
 * channels), records what it hears through the sndfile module (unless told not to), and is driven over
 * ctrl_tcp, whose events it keeps.
 */
export class BaresipPhone {
  readonly options: BaresipPhoneOptions;
  readonly dir: string;
  readonly recordDir: string;
  readonly events: BaresipEvent[] = [];
  readonly #peer: Peer;
  #ctrl: net.Socket | null = null;
  #inbox = '';

  private constructor(options: BaresipPhoneOptions, dir: string, recordDir: string, peer: Peer) {
    this.options = options;
    this.dir = dir;
    this.recordDir = recordDir;
    this.#peer = peer;
  }

  static async start(options: BaresipPhoneOptions): Promise<BaresipPhone> {
    const dir = scratchDir(`baresip-${options.user}`);
    const recordDir = join(dir, 'recordings');
    const record = options.record ?? true;
    if (record) mkdirSync(recordDir);
    const opus = options.codec === 'opus';
    const g722 = options.codec === 'G722';
    const wav = join(dir, 'tone.wav');
    // aufile hangs the call up when the file ends, so the tone must outlast the phone.
    writeToneWav(wav, {
      frequencyHz: options.toneHz, sampleRate: opus ? 48_000 : g722 ? 16_000 : 8000, channels: opus ? 2 : 1,
      seconds: Math.ceil(options.lifetimeMs / 1000) + 30, amplitude: options.toneAmplitude ?? 0.3,
    });
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
      `module_path\t\t${MODULE_PATH}`,
      opus ? 'module\t\t\topus.so' : g722 ? 'module\t\t\tg722.so' : 'module\t\t\tg711.so',
      'module\t\t\taufile.so',
      'module\t\t\talsa.so',
      ...(record ? ['module\t\t\tsndfile.so'] : []),
      ...(options.srtp ? ['module\t\t\tsrtp.so'] : []),
      'module_app\t\taccount.so',
      'module_app\t\tmenu.so',
      'module_app\t\tctrl_tcp.so',
      `ctrl_tcp_listen\t\t127.0.0.1:${options.ctrlPort}`,
      ...(record ? [`snd_path\t\t${recordDir}`] : []),
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'accounts'), `${accountLine(options)}\n`);
    writeFileSync(join(dir, 'contacts'), '');
    const peer = spawnPeer('baresip', ['-f', dir, ...(options.sipTrace ? ['-s'] : [])], { timeoutMs: options.lifetimeMs });
    const phone = new BaresipPhone(options, dir, recordDir, peer);
    try {
      await phone.#connect();
    } catch (error) {
      await peer.stop();
      throw error;
    }
    return phone;
  }

  get pid(): number | undefined {
    return this.#peer.proc.pid;
  }

  output(): string {
    return this.#peer.output();
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
        if (Date.now() > deadline) throw new Error(`baresip ${this.options.user}: ctrl_tcp not reachable\n${this.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.#ctrl.on('error', () => undefined);
    this.#ctrl.on('data', (data: Buffer) => this.#onData(data.toString('utf8')));
  }

  /** ctrl_tcp frames JSON as netstrings: `<length>:<json>,`. */
  #onData(text: string): void {
    this.#inbox += text;
    for (;;) {
      const colon = this.#inbox.indexOf(':');
      if (colon < 0) return;
      const length = Number(this.#inbox.slice(0, colon));
      if (!Number.isInteger(length) || this.#inbox.length < colon + 1 + length + 1) return;
      const json = this.#inbox.slice(colon + 1, colon + 1 + length);
      this.#inbox = this.#inbox.slice(colon + 1 + length + 1);
      try {
        const message = JSON.parse(json) as { event?: boolean; type?: string; param?: string };
        if (message.event && message.type) this.events.push({ type: message.type, param: message.param ?? '', at: Date.now() });
      } catch {
        // A frame that is not JSON says nothing about calls.
      }
    }
  }

  #command(command: string, params = ''): void {
    if (!this.#ctrl) throw new Error('baresip ctrl_tcp is not connected');
    const json = JSON.stringify({ command, params, token: String(Date.now()) });
    this.#ctrl.write(`${Buffer.byteLength(json)}:${json},`);
  }

  /** Types of the events kept, e.g. to poll for one with `eventually`. */
  get eventTypes(): string[] {
    return this.events.map((event) => event.type);
  }

  /** Places a call; events from here on count for `waitForEvent`. */
  dial(uri: string): void {
    this.events.length = 0;
    this.#command('dial', uri);
  }

  /** Puts the current call on hold (re-INVITE, sendonly), or takes it off. */
  hold(on: boolean): void {
    this.#command(on ? 'hold' : 'resume');
  }

  hangup(): void {
    this.#command('hangup');
  }

  /** Transfers the current call to `uri` (blind: REFER, then baresip hangs up once told the transfer worked). */
  transfer(uri: string): void {
    this.#command('transfer', uri);
  }

  /** Presses keys on the call (RFC 4733 events when negotiated, which baresip's menu sends). */
  sendDtmf(digits: string): void {
    this.#command('sndcode', digits);
  }

  /** Whether the call placed by the last dial is still up (or being set up) as far as baresip's events tell. */
  get inCall(): boolean {
    return this.events.length > 0 && !this.events.some((event) => event.type === 'CALL_CLOSED');
  }

  /** Hangs up a call left up, e.g. by a failed assertion, and waits until baresip has closed it. */
  async ensureHungUp(timeoutMs = 5_000): Promise<void> {
    if (!this.inCall) return;
    this.hangup();
    await this.waitForEvent('CALL_CLOSED', timeoutMs);
  }

  /** Resolves with the first event of `type` since the last dial; rejects after `timeoutMs` with baresip's output. */
  async waitForEvent(type: string, timeoutMs = 10_000): Promise<BaresipEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => event.type === type);
      if (found) return found;
      if (this.#peer.proc.exitCode !== null || this.#peer.proc.signalCode !== null) {
        throw new Error(`baresip ${this.options.user} exited before ${type}\n${this.output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`baresip ${this.options.user}: no ${type} within ${timeoutMs} ms; events ${JSON.stringify(this.events)}\n${this.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Recordings of received audio (`dump-<time>-dec.wav`), oldest first. */
  receivedRecordings(): string[] {
    return readdirSync(this.recordDir).filter((name) => name.endsWith('-dec.wav')).sort().map((name) => join(this.recordDir, name));
  }

  /**
   * What the phone heard in its last call. baresip reports CALL_CLOSED before the recorder has written its
   * last buffers, so the file is read once its size has stopped changing (300 ms apart, for at most 3 s).
   */
  async lastRecording(): Promise<DecodedWav> {
    const file = this.receivedRecordings().at(-1);
    if (!file) throw new Error(`baresip ${this.options.user} recorded nothing\n${this.output()}`);
    let size = -1;
    for (const deadline = Date.now() + 3000; Date.now() < deadline;) {
      const now = statSync(file).size;
      if (now === size) break;
      size = now;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return readWav(file);
  }

  /** Kills the process (SIGTERM, then SIGKILL), waits for it to exit and removes its directory. */
  async stop(): Promise<void> {
    this.#ctrl?.destroy();
    await this.#peer.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The account line: its own address answering every call, or a registration at a registrar. */
function accountLine(options: BaresipPhoneOptions): string {
  const { registrar } = options;
  const address = `<sip:${options.user}@127.0.0.1:${registrar?.port ?? options.sipPort}${options.transport === 'tcp' ? ';transport=tcp' : ''}>`;
  const account = registrar
    ? `auth_pass=${registrar.password};regint=${registrar.intervalSeconds}${registrar.autoAnswer ? ';answermode=auto' : ''}`
    : 'regint=0;answermode=auto';
  // baresip wants Opus spelled with its rate and channels; a bare "opus" matches nothing.
  const codecs = options.codec === 'opus' ? 'opus/48000/2' : options.codec === 'G722' ? 'G722' : 'PCMU';
  return `${address};${account};audio_codecs=${codecs}${options.srtp ? ';mediaenc=srtp-mand' : ''}`;
}

/**
 * Decodes a 16-bit PCM WAV (first channel). Samples run to the end of the file, not to the data
 * chunk's declared size: a recorder still writing (or killed) may not have updated the header.
 */
export function readWav(file: string): DecodedWav {
  const buf = readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAV file`);
  let offset = 12;
  let sampleRate = 0;
  let channels = 1;
  let bits = 16;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(offset + 10);
      sampleRate = buf.readUInt32LE(offset + 12);
      bits = buf.readUInt16LE(offset + 22);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${file}: ${bits}-bit samples, expected 16`);
      const start = offset + 8;
      const frames = Math.floor((buf.length - start) / (2 * channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = buf.readInt16LE(start + i * 2 * channels) / 32768;
      return { sampleRate, samples };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/** RMS of samples, full scale = 1. */
export function rms(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += (samples[i] ?? 0) ** 2;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/**
 * Tone levels in a window ending `tailSeconds` before the recording's end. The median over 250 ms pieces
 * keeps a single phase jump (a concealed packet when a loaded machine delays a mixer tick) from cancelling
 * a tone out of the whole window, as one long transform would.
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

/** One side of a two-phone call check: the phone, its own tone and the rate its recording must have. */
export interface HeardPhone {
  phone: BaresipPhone;
  label: string;
  toneHz: number;
  sampleRate: number;
}

/**
 * Hangs both phones up, then checks each recording holds the other's tone above `minTone` and its own
 * at least `marginDb` lower (mix-minus). Prints the levels.
 */
export async function expectPhonesHeardEachOther(a: HeardPhone, b: HeardPhone, minTone: number, marginDb: number): Promise<void> {
  a.phone.hangup();
  b.phone.hangup();
  await Promise.all([a.phone.waitForEvent('CALL_CLOSED'), b.phone.waitForEvent('CALL_CLOSED')]);
  const tones = [a.toneHz, b.toneHz];
  const heard = [toneLevels(await a.phone.lastRecording(), tones), toneLevels(await b.phone.lastRecording(), tones)] as const;
  const sides = [[a, b, heard[0]], [b, a, heard[1]]] as const;
  console.log(sides.map(([self, other, levels]) => `${self.label} (${levels.sampleRate} Hz) hears ${other.label} `
    + `${levels.tones[other.toneHz]!.toFixed(4)}, itself ${levels.tones[self.toneHz]!.toFixed(5)}`).join('; '));
  for (const [self, other, levels] of sides) {
    expect(levels.sampleRate).toBe(self.sampleRate);
    expect(levels.tones[other.toneHz], `${other.label}'s tone at ${self.label}`).toBeGreaterThan(minTone);
    expect(db(levels.tones[other.toneHz]!, levels.tones[self.toneHz]!), `${self.label} does not hear itself`).toBeGreaterThan(marginDb);
  }
}
