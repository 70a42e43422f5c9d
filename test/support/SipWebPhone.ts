import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from './browser.js';

/** Loudness and dominant frequency of what the page hears. */
export interface HeardAudio {
  rms: number;
  dominantHz: number;
}

let bundle: Promise<string> | undefined;

/** JsSIP bundled for the page with esbuild, as an application would ship it. */
function jssipBundle(): Promise<string> {
  bundle ??= build({
    stdin: { contents: "import JsSIP from 'jssip'; window.JsSIP = JsSIP;", resolveDir: process.cwd(), loader: 'js' },
    bundle: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
  }).then((result) => result.outputFiles[0]!.text);
  return bundle;
}

// Runs in the page: one JsSIP UA and at most one call, read and driven through window.webphone.
const PAGE_SCRIPT = `
window.webphone = {
  ua: null, session: null, events: [], incoming: null, autoAnswer: false,
  media: { mediaConstraints: { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false }, pcConfig: { iceServers: [] } },
  register(wsUrl, uri, password) {
    JsSIP.debug.disable();
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    this.ua = new JsSIP.UA({ sockets: [socket], uri, password, register: true, register_expires: 300, session_timers: false });
    return new Promise((resolve) => {
      this.ua.on('registered', () => resolve('registered'));
      this.ua.on('registrationFailed', (e) => resolve('failed: ' + e.cause));
      this.ua.on('newRTCSession', (e) => {
        if (e.originator !== 'remote') return;
        this.incoming = e.session;
        this.events = [];
        this.track(e.session);
        this.events.push('incoming:' + e.request.from.uri.user);
        if (this.autoAnswer) e.session.answer(this.media);
      });
      this.ua.start();
    });
  },
  track(session) {
    this.session = session;
    for (const name of ['progress', 'accepted', 'confirmed', 'ended', 'failed', 'hold', 'unhold']) {
      session.on(name, (e) => this.events.push(name + (e && e.cause ? ':' + e.cause : '') + (e && e.response ? ':' + e.response.status_code : '')));
    }
  },
  call(target) {
    this.events = [];
    const session = this.ua.call(target, { ...this.media, rtcOfferConstraints: { offerToReceiveAudio: true } });
    this.track(session);
    return new Promise((resolve) => {
      session.on('confirmed', () => resolve('confirmed'));
      session.on('failed', (e) => resolve('failed:' + e.cause + (e.message && e.message.status_code ? ':' + e.message.status_code : '')));
    });
  },
  hangup() { if (this.session) this.session.terminate(); },
  async measure(durationMs) {
    const receiver = this.session.connection.getReceivers().find((r) => r.track && r.track.kind === 'audio');
    const context = new AudioContext();
    await context.resume();
    const sink = new Audio();
    sink.muted = true;
    sink.srcObject = new MediaStream([receiver.track]);
    await sink.play().catch(() => undefined);
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    context.createMediaStreamSource(new MediaStream([receiver.track])).connect(analyser);
    const time = new Float32Array(analyser.fftSize);
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    const energy = new Float64Array(analyser.frequencyBinCount);
    let rmsSum = 0, frames = 0;
    const end = performance.now() + durationMs;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatTimeDomainData(time);
      let sum = 0;
      for (const s of time) sum += s * s;
      rmsSum += Math.sqrt(sum / time.length);
      frames++;
      analyser.getFloatFrequencyData(spectrum);
      for (let bin = 0; bin < spectrum.length; bin++) energy[bin] += 10 ** (spectrum[bin] / 10);
    }
    const binHz = context.sampleRate / 8192;
    await context.close();
    let peak = 2;
    for (let bin = 2; bin < energy.length; bin++) if (energy[bin] > energy[peak]) peak = bin;
    return { rms: frames ? rmsSum / frames : 0, dominantHz: peak * binHz };
  },
  async stats() {
    const report = await this.session.connection.getStats();
    const out = {};
    report.forEach((s) => { if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') out[s.type] = s.packetsReceived ?? s.packetsSent; });
    return out;
  },
};
`;

/**
 * A browser SIP phone: JsSIP (npm, bundled with esbuild) in headless Chromium whose fake microphone plays a
 * tone, on a page served from 127.0.0.1 (a secure context), registering over WebSocket and calling.
 */
export class SipWebPhone {
  readonly consoleErrors: string[] = [];

  private constructor(readonly browser: Browser, readonly page: Page, private readonly server: http.Server) {
    page.on('pageerror', (error) => this.consoleErrors.push(error.message));
  }

  static async launch(toneFile: string): Promise<SipWebPhone> {
    const script = await jssipBundle();
    const server = http.createServer((request, response) => {
      if (request.url === '/jssip.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script src="/jssip.js"></script><script>${PAGE_SCRIPT}</script>`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const browser = await launchBrowser({ fakeAudioFile: toneFile });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'webphone' in window && 'JsSIP' in window);
    return new SipWebPhone(browser, page, server);
  }

  register(wsUrl: string, uri: string, password: string): Promise<string> {
    return this.page.evaluate(([url, u, p]) => (window as never as { webphone: { register: (a: string, b: string, c: string) => Promise<string> } })
      .webphone.register(url!, u!, p!), [wsUrl, uri, password]);
  }

  /** Calls `target`; resolves with `confirmed` or `failed:<cause>[:status]`. */
  call(target: string): Promise<string> {
    return this.page.evaluate((t) => (window as never as { webphone: { call: (a: string) => Promise<string> } }).webphone.call(t), target);
  }

  /** Session events so far (progress, accepted, confirmed, ended...). */
  events(): Promise<string[]> {
    return this.page.evaluate(() => (window as never as { webphone: { events: string[] } }).webphone.events);
  }

  /** Packets received and sent on the call, from the peer connection's stats. */
  stats(): Promise<Record<string, number>> {
    return this.page.evaluate(() => (window as never as { webphone: { stats: () => Promise<Record<string, number>> } }).webphone.stats());
  }

  /** The call's local and remote SDP. */
  descriptions(): Promise<{ local: string; remote: string }> {
    return this.page.evaluate(() => {
      const pc = (window as never as { webphone: { session: { connection: RTCPeerConnection } } }).webphone.session.connection;
      return { local: pc.localDescription?.sdp ?? '', remote: pc.remoteDescription?.sdp ?? '' };
    });
  }

  /** Answers every call that comes in from now on. */
  answerIncoming(): Promise<void> {
    return this.page.evaluate(() => { (window as never as { webphone: { autoAnswer: boolean } }).webphone.autoAnswer = true; });
  }

  hangup(): Promise<void> {
    return this.page.evaluate(() => (window as never as { webphone: { hangup: () => void } }).webphone.hangup());
  }

  /** What the page hears on the call for `durationMs`, through an AnalyserNode. */
  measure(durationMs = 2000): Promise<HeardAudio> {
    return this.page.evaluate((ms) => (window as never as { webphone: { measure: (d: number) => Promise<HeardAudio> } }).webphone.measure(ms), durationMs);
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
