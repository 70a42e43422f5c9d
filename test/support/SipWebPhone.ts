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

/** The SIP-over-WebSocket libraries a page can run. */
export type SipLibrary = 'jssip' | 'sip.js';

const ENTRIES: Record<SipLibrary, string> = {
  'jssip': "import JsSIP from 'jssip'; window.JsSIP = JsSIP;",
  'sip.js': "import * as SIP from 'sip.js'; window.SIP = SIP;",
};
const bundles = new Map<SipLibrary, Promise<string>>();

/** The library bundled for the page with esbuild, as an application would ship it. */
function libraryBundle(library: SipLibrary): Promise<string> {
  let bundle = bundles.get(library);
  if (!bundle) {
    bundle = build({
      stdin: { contents: ENTRIES[library], resolveDir: process.cwd(), loader: 'js' },
      bundle: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
    }).then((result) => result.outputFiles[0]!.text);
    bundles.set(library, bundle);
  }
  return bundle;
}

// Runs in the page: what both libraries' pages share (listening to the call, its stats).
const COMMON_SCRIPT = `
window.webphoneCommon = {
  async measure(pc, durationMs) {
    const receiver = pc.getReceivers().find((r) => r.track && r.track.kind === 'audio');
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
  async stats(pc) {
    const report = await pc.getStats();
    const out = {};
    report.forEach((s) => { if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') out[s.type] = s.packetsReceived ?? s.packetsSent; });
    return out;
  },
  async video(pc) {
    const out = { framesDecoded: 0, frameWidth: 0, framesEncoded: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.kind !== 'video') return;
      if (s.type === 'inbound-rtp') { out.framesDecoded = s.framesDecoded ?? 0; out.frameWidth = s.frameWidth ?? 0; }
      if (s.type === 'outbound-rtp') out.framesEncoded = s.framesEncoded ?? 0;
    });
    return out;
  },
  audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
};
`;

// One JsSIP UA and at most one call, driven through window.webphone.
const JSSIP_SCRIPT = `
window.webphone = {
  ua: null, session: null, events: [], timings: {}, autoAnswer: false, withoutCandidates: false, sentSdp: null,
  media: { mediaConstraints: { audio: webphoneCommon.audio, video: false }, pcConfig: { iceServers: [] } },
  register(wsUrl, uri, password) {
    JsSIP.debug.disable();
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    this.ua = new JsSIP.UA({ sockets: [socket], uri, password, register: true, register_expires: 300, session_timers: false });
    return new Promise((resolve) => {
      this.ua.on('registered', () => resolve('registered'));
      this.ua.on('registrationFailed', (e) => resolve('failed: ' + e.cause));
      this.ua.on('newRTCSession', (e) => {
        if (e.originator !== 'remote') return;
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
    for (const name of ['progress', 'accepted', 'confirmed', 'ended', 'failed']) {
      session.on(name, (e) => this.events.push(name + (e && e.response ? ':' + e.response.status_code : '')));
    }
    session.on('failed', (e) => {
      if (e.message && e.message.method === 'CANCEL') this.events.push('cancelled:' + (e.message.getHeader('Reason') || ''));
    });
    session.on('newDTMF', (e) => { if (e.originator === 'remote') this.events.push('dtmf:' + e.dtmf.tone); });
    for (const name of ['sending', 'accepted', 'confirmed']) session.once(name, () => { this.timings[name] = performance.now(); });
  },
  dtmf(digit) { this.session.sendDTMF(digit, { transportType: 'INFO', duration: 160 }); },
  decline(status) { this.session.terminate({ status_code: status }); },
  answer() { this.session.answer(this.media); },
  call(target) {
    this.events = [];
    this.timings = { call: performance.now() };
    const session = this.ua.call(target, { ...this.media, rtcOfferConstraints: { offerToReceiveAudio: true } });
    // An offer with none of its candidates (as a trickle-ICE client sends it before any is gathered).
    session.on('sdp', (e) => {
      if (e.originator !== 'local') return;
      if (this.withoutCandidates) e.sdp = e.sdp.replace(/^a=(candidate|end-of-candidates).*\\r\\n/gm, '');
      this.sentSdp = e.sdp;
    });
    this.track(session);
    return new Promise((resolve) => {
      session.on('confirmed', () => resolve('confirmed'));
      session.on('failed', (e) => resolve('failed:' + e.cause + (e.message && e.message.status_code ? ':' + e.message.status_code : '')));
    });
  },
  hangup() { if (this.session) this.session.terminate(); },
  hold(on, useUpdate) {
    return new Promise((resolve) => {
      this.session.once(on ? 'hold' : 'unhold', () => resolve(on ? 'held' : 'resumed'));
      // JsSIP reports a hold when it sends the offer and refuses a new one until the answer is applied: retry a while.
      const attempt = (left) => {
        if (on ? this.session.hold({ useUpdate }) : this.session.unhold({ useUpdate })) return;
        if (left > 0) setTimeout(() => attempt(left - 1), 100);
        else resolve('refused');
      };
      attempt(20);
      setTimeout(() => resolve('timeout'), 5000);
    });
  },
  refer(target) {
    return new Promise((resolve) => {
      this.session.refer(target, { eventHandlers: {
        requestFailed: (e) => resolve('rejected:' + (e.response ? e.response.status_code : e.cause)),
        accepted: () => resolve('accepted'),
        failed: (e) => resolve('failed:' + (e && e.status_line ? e.status_line.status_code : '?')),
      } });
      setTimeout(() => resolve('timeout'), 15000);
    });
  },
  pc() { return this.session.connection; },
};
`;

// One SIP.js UserAgent (its core API: Registerer, Inviter, Invitation) and at most one call, driven the same way.
const SIPJS_SCRIPT = `
window.webphone = {
  ua: null, session: null, events: [], autoAnswer: false,
  options: { sessionDescriptionHandlerOptions: { constraints: { audio: webphoneCommon.audio, video: false } } },
  async register(wsUrl, uri, password) {
    const target = SIP.UserAgent.makeURI(uri);
    this.ua = new SIP.UserAgent({
      uri: target, authorizationUsername: target.user, authorizationPassword: password, logLevel: 'error',
      transportOptions: { server: wsUrl }, sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },
      delegate: {
        onInvite: (invitation) => {
          this.events = [];
          this.track(invitation);
          this.events.push('incoming:' + invitation.remoteIdentity.uri.user);
          if (this.autoAnswer) invitation.accept(this.options);
        },
      },
    });
    await this.ua.start();
    const registerer = new SIP.Registerer(this.ua, { expires: 300 });
    return new Promise((resolve) => {
      registerer.stateChange.addListener((state) => { if (state === SIP.RegistererState.Registered) resolve('registered'); });
      registerer.register({ requestDelegate: { onReject: (response) => resolve('failed: ' + response.message.statusCode) } });
    });
  },
  track(session) {
    this.session = session;
    session.delegate = {
      onInfo: (info) => {
        const signal = /Signal=\\s*([0-9A-D*#])/i.exec(info.request.body || '');
        if (signal) this.events.push('dtmf:' + signal[1]);
        info.accept();
      },
      onCancel: (cancel) => this.events.push('cancelled:' + (cancel.request.getHeader('Reason') || '')),
    };
    session.stateChange.addListener((state) => {
      if (state === SIP.SessionState.Established) this.events.push('confirmed');
      if (state === SIP.SessionState.Terminated) this.events.push('ended');
    });
  },
  call(target) {
    this.events = [];
    const inviter = new SIP.Inviter(this.ua, SIP.UserAgent.makeURI(target), this.options);
    this.track(inviter);
    return new Promise((resolve) => {
      inviter.stateChange.addListener((state) => { if (state === SIP.SessionState.Established) resolve('confirmed'); });
      inviter.invite({ requestDelegate: {
        onProgress: (response) => this.events.push('progress:' + response.message.statusCode),
        onAccept: (response) => this.events.push('accepted:' + response.message.statusCode),
        onReject: (response) => resolve('failed:' + response.message.reasonPhrase + ':' + response.message.statusCode),
      } }).catch((error) => resolve('failed:' + error.message));
    });
  },
  decline(status) { this.session.reject({ statusCode: status }); },
  answer() { this.session.accept(this.options); },
  hangup() {
    if (!this.session) return;
    if (this.session.state === SIP.SessionState.Established) this.session.bye();
    else if (this.session.cancel) this.session.cancel();
  },
  dtmf(digit) {
    this.session.info({ requestOptions: { body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: 'Signal=' + digit + '\\r\\nDuration=160' } } });
  },
  hold(on) {
    this.session.sessionDescriptionHandlerOptionsReInvite = { hold: on };
    return new Promise((resolve) => {
      this.session.invite({ requestDelegate: {
        onAccept: () => resolve(on ? 'held' : 'resumed'),
        onReject: (response) => resolve('refused:' + response.message.statusCode),
      } }).catch((error) => resolve('failed:' + error.message));
    });
  },
  refer(target) {
    return new Promise((resolve) => {
      this.session.refer(SIP.UserAgent.makeURI(target), {
        requestDelegate: { onReject: (response) => resolve('rejected:' + response.message.statusCode) },
        onNotify: (notification) => {
          notification.accept();
          const code = Number((/^SIP\\/2\\.0 (\\d{3})/.exec(notification.request.body || '') || [])[1] || 0);
          if (code >= 300) resolve('failed:' + code);
          else if (code >= 200) resolve('accepted');
        },
      }).catch((error) => resolve('error:' + error.message));
      setTimeout(() => resolve('timeout'), 15000);
    });
  },
  pc() { return this.session.sessionDescriptionHandler.peerConnection; },
};
`;

const PAGE_SCRIPTS: Record<SipLibrary, string> = { 'jssip': JSSIP_SCRIPT, 'sip.js': SIPJS_SCRIPT };

/**
 * A browser SIP phone: JsSIP or SIP.js (npm, bundled with esbuild) in headless Chromium whose fake microphone plays a
 * tone, on a page served from 127.0.0.1 (a secure context), registering over WebSocket and calling.
 */
export class SipWebPhone {
  readonly consoleErrors: string[] = [];

  private constructor(readonly browser: Browser, readonly page: Page, private readonly server: http.Server, private readonly ownsBrowser: boolean) {
    page.on('pageerror', (error) => this.consoleErrors.push(error.message));
  }

  /** Opens the phone's page in a new Chromium whose microphone plays `toneFile`, or as a tab of `shared`. */
  static async launch(toneFile: string, library: SipLibrary = 'jssip', shared?: Browser): Promise<SipWebPhone> {
    const script = await libraryBundle(library);
    const page = `<!doctype html><script src="/library.js"></script><script>${COMMON_SCRIPT}${PAGE_SCRIPTS[library]}</script>`;
    const server = http.createServer((request, response) => {
      if (request.url === '/library.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const browser = shared ?? await launchBrowser({ fakeAudioFile: toneFile });
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await tab.waitForFunction(() => 'webphone' in window);
    return new SipWebPhone(browser, tab, server, shared === undefined);
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

  /** JsSIP: when the last call was placed, its INVITE sent (ICE gathered), its 200 OK received and ACKed (page ms). */
  timings(): Promise<Partial<Record<'call' | 'sending' | 'accepted' | 'confirmed', number>>> {
    return this.page.evaluate(() => (window as never as { webphone: { timings: Record<string, number> } }).webphone.timings);
  }

    /** Packets received and sent on the call, from the peer connection's stats. */
  stats(): Promise<Record<string, number>> {
    return this.page.evaluate(() => {
      const w = window as never as { webphone: { pc: () => RTCPeerConnection }; webphoneCommon: { stats: (pc: RTCPeerConnection) => Promise<Record<string, number>> } };
      return w.webphoneCommon.stats(w.webphone.pc());
    });
  }

  /** Transfers the call (blind, REFER): `accepted` once the target answered, `failed:<status>` or `rejected:<status>`. */
  refer(target: string): Promise<string> {
    return this.page.evaluate((t) => (window as never as { webphone: { refer: (a: string) => Promise<string> } }).webphone.refer(t), target);
  }

  /** Whether the calls placed and answered from now on send the fake camera too. */
  sendVideo(on: boolean): Promise<void> {
    return this.page.evaluate((flag) => {
      const webphone = (window as never as { webphone: { media?: { mediaConstraints: { video: boolean } };
        options?: { sessionDescriptionHandlerOptions: { constraints: { video: boolean } } } } }).webphone;
      if (webphone.media) webphone.media.mediaConstraints.video = flag;
      if (webphone.options) webphone.options.sessionDescriptionHandlerOptions.constraints.video = flag;
    }, on);
  }

  /** The call's video: frames decoded (and their width) of what the page receives, frames encoded of what it sends. */
  video(): Promise<{ framesDecoded: number; frameWidth: number; framesEncoded: number }> {
    return this.page.evaluate(() => {
      const w = window as never as { webphone: { pc: () => RTCPeerConnection };
        webphoneCommon: { video: (pc: RTCPeerConnection) => Promise<{ framesDecoded: number; frameWidth: number; framesEncoded: number }> } };
      return w.webphoneCommon.video(w.webphone.pc());
    });
  }

  /** The negotiated direction of the call's audio transceiver (e.g. `recvonly` while the far end holds). */
  audioDirection(): Promise<string | null> {
    return this.page.evaluate(() => {
      const pc = (window as never as { webphone: { pc: () => RTCPeerConnection } }).webphone.pc();
      return pc.getTransceivers().find((t) => t.receiver.track.kind === 'audio')?.currentDirection ?? null;
    });
  }

  /**
   * Puts the call on hold (re-INVITE, sendonly) or takes it off; resolves with `held`/`resumed` once answered.
   * `useUpdate`: JsSIP sends the offer in an UPDATE (RFC 3311) instead.
   */
  hold(on: boolean, useUpdate = false): Promise<string> {
    return this.page.evaluate(([flag, update]) => (window as never as { webphone: { hold: (f: boolean, u: boolean) => Promise<string> } })
      .webphone.hold(flag!, update!), [on, useUpdate]);
  }

  /** Presses a key on the call: SIP INFO (application/dtmf-relay), as both libraries send it. */
  dtmf(digit: string): Promise<void> {
    return this.page.evaluate((d) => (window as never as { webphone: { dtmf: (x: string) => void } }).webphone.dtmf(d), digit);
  }

  /** Refuses the call that is ringing with `status` (486 busy, 603 decline, …). */
  decline(status: number): Promise<void> {
    return this.page.evaluate((code) => (window as never as { webphone: { decline: (s: number) => void } }).webphone.decline(code), status);
  }

  /** JsSIP only: its offers leave out every ICE candidate (the other side learns the address from ICE checks). */
  sendCandidates(on: boolean): Promise<void> {
    return this.page.evaluate((send) => { (window as never as { webphone: { withoutCandidates: boolean } }).webphone.withoutCandidates = !send; }, on);
  }

  /** JsSIP only: the last SDP it sent. */
  sentSdp(): Promise<string | null> {
    return this.page.evaluate(() => (window as never as { webphone: { sentSdp: string | null } }).webphone.sentSdp);
  }

  /** Answers the call that is ringing. */
  answer(): Promise<void> {
    return this.page.evaluate(() => (window as never as { webphone: { answer: () => void } }).webphone.answer());
  }

  /** Lets calls that come in from now on ring unanswered, with the events so far cleared. */
  ringOnly(): Promise<void> {
    return this.page.evaluate(() => {
      const webphone = (window as never as { webphone: { autoAnswer: boolean; events: string[] } }).webphone;
      webphone.autoAnswer = false;
      webphone.events = [];
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
    return this.page.evaluate((ms) => {
      const w = window as never as { webphone: { pc: () => RTCPeerConnection }; webphoneCommon: { measure: (pc: RTCPeerConnection, d: number) => Promise<HeardAudio> } };
      return w.webphoneCommon.measure(w.webphone.pc(), ms);
    }, durationMs);
  }

  async close(): Promise<void> {
    await (this.ownsBrowser ? this.browser.close() : this.page.close()).catch(() => undefined);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
