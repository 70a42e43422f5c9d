import type { Browser, Page } from 'playwright-core';
import type { AppHook, AppStatus } from '../../client/app/AppHook.js';
import type { ClientSnapshot } from '../../client/sdk/ConfluxClientTypes.js';
import { launchBrowser } from './browser.js';

export interface InboundRtpSample {
  consumerId: string;
  participantId: string;
  kind: 'audio' | 'video';
  packetsReceived: number;
  framesDecoded: number;
}

export interface RemoteAudioLevel {
  participantId: string;
  /** Mean RMS of the received signal over the measurement, full scale = 1. */
  rms: number;
  /** Frequency with the most energy, summed over the measurement. */
  dominantHz: number;
}

const DEFAULT_WAIT_MS = 30_000;

/**
 * The conflux web client in one headless Chromium, driven like a user and read through `window.conflux`.
 * Functions passed to `page.evaluate` run in the browser, so each reaches the hook itself.
 */
export class ConfluxPage {
  readonly browser: Browser;
  readonly page: Page;
  readonly consoleErrors: string[] = [];

  private constructor(browser: Browser, page: Page) {
    this.browser = browser;
    this.page = page;
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => this.consoleErrors.push(error.message));
  }

  /** Launches a browser whose fake microphone plays `toneFile`, and opens a blank page in it. */
  static async launch(toneFile: string): Promise<ConfluxPage> {
    const browser = await launchBrowser({ fakeAudioFile: toneFile });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.setDefaultTimeout(DEFAULT_WAIT_MS);
      return new ConfluxPage(browser, page);
    } catch (error) {
      await browser.close();
      throw error;
    }
  }

  /** Opens a URL of the app and waits for its script to install the hook. */
  async open(url: string): Promise<void> {
    await this.page.goto(url, { waitUntil: 'load', timeout: DEFAULT_WAIT_MS });
    await this.page.waitForFunction(() => 'conflux' in window, undefined, { timeout: DEFAULT_WAIT_MS });
  }

  /** Fills the join form like a user and submits it. */
  async joinWithForm(room: string, name: string): Promise<void> {
    await this.page.getByLabel('Room').fill(room);
    await this.page.getByLabel('Your name').fill(name);
    await this.page.getByRole('button', { name: 'Join' }).click();
  }

  status(): Promise<AppStatus> {
    return this.page.evaluate(() => (window as unknown as { conflux: AppHook }).conflux.status);
  }

  error(): Promise<string | null> {
    return this.page.evaluate(() => (window as unknown as { conflux: AppHook }).conflux.error);
  }

  snapshot(): Promise<ClientSnapshot | null> {
    return this.page.evaluate(() => (window as unknown as { conflux: AppHook }).conflux.client?.snapshot() ?? null);
  }

  /** Waits until the app reports a status. */
  async waitForStatus(status: AppStatus, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.page.waitForFunction(
      (wanted) => (window as unknown as { conflux: AppHook }).conflux.status === wanted,
      status,
      { timeout: timeoutMs },
    );
  }

  /** Waits until `count` other participants are present, each with a live audio and a live video consumer. */
  async waitForRemoteMedia(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.page.waitForFunction((wanted) => {
      const snapshot = (window as unknown as { conflux: AppHook }).conflux.client?.snapshot();
      if (!snapshot || snapshot.state !== 'joined' || snapshot.participants.length !== wanted) return false;
      return snapshot.participants.every((participant) =>
        ['audio', 'video'].every((kind) =>
          participant.consumers.some((consumer) => consumer.kind === kind && consumer.trackState === 'live')));
    }, count, { timeout: timeoutMs, polling: 200 });
  }

  /** Waits for a snapshot predicate, e.g. "participant X is gone". */
  async waitForSnapshot(
    predicate: (snapshot: ClientSnapshot) => boolean,
    description: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<ClientSnapshot> {
    const deadline = Date.now() + timeoutMs;
    let last: ClientSnapshot | null = null;
    while (Date.now() < deadline) {
      last = await this.snapshot();
      if (last && predicate(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last snapshot ${JSON.stringify(last)}`);
  }

  /** Keeps references to this page's consumers of a participant, for `heldConsumersClosed`. */
  async holdConsumersOf(participantId: string): Promise<number> {
    return this.page.evaluate((id) => {
      const held = (window as unknown as { conflux: AppHook }).conflux.client?.consumers
        .filter((consumer) => consumer.appData.participantId === id) ?? [];
      (window as unknown as { heldConsumers: unknown[] }).heldConsumers = held;
      return held.length;
    }, participantId);
  }

  /** Whether each consumer kept by `holdConsumersOf` is closed now. */
  heldConsumersClosed(): Promise<boolean[]> {
    return this.page.evaluate(() =>
      (window as unknown as { heldConsumers: { closed: boolean }[] }).heldConsumers.map((consumer) => consumer.closed));
  }

  /** The outbound-rtp streams of one of our producers: one per simulcast layer for the camera. */
  outboundRtp(source: 'mic' | 'camera'): Promise<{ rid: string | null; frameWidth: number; bytesSent: number }[]> {
    return this.page.evaluate(async (wanted) => {
      const producer = (window as unknown as { conflux: AppHook }).conflux.client?.producer(wanted);
      const streams: { rid: string | null; frameWidth: number; bytesSent: number }[] = [];
      (await producer?.getStats())?.forEach((stat: { type: string; rid?: string; frameWidth?: number; bytesSent?: number }) => {
        if (stat.type === 'outbound-rtp') {
          streams.push({ rid: stat.rid ?? null, frameWidth: stat.frameWidth ?? 0, bytesSent: stat.bytesSent ?? 0 });
        }
      });
      return streams;
    }, source);
  }

  /** One inbound-rtp sample per consumer, from the receiving peer connection. */
  inboundRtp(): Promise<InboundRtpSample[]> {
    return this.page.evaluate(async () => {
      const client = (window as unknown as { conflux: AppHook }).conflux.client;
      const samples: InboundRtpSample[] = [];
      for (const consumer of client?.consumers ?? []) {
        const report = await consumer.getStats();
        report.forEach((stat: { type: string; packetsReceived?: number; framesDecoded?: number }) => {
          if (stat.type !== 'inbound-rtp') return;
          samples.push({
            consumerId: consumer.id,
            participantId: consumer.appData.participantId,
            kind: consumer.kind,
            packetsReceived: stat.packetsReceived ?? 0,
            framesDecoded: stat.framesDecoded ?? 0,
          });
        });
      }
      return samples;
    });
  }

  /**
   * Listens to every remote audio track for `durationMs` through an AnalyserNode (headless Chromium reports
   * no inbound audioLevel) and returns its loudness and dominant frequency.
   */
  measureRemoteAudio(durationMs = 2_000): Promise<RemoteAudioLevel[]> {
    return this.page.evaluate(async (duration) => {
      const client = (window as unknown as { conflux: AppHook }).conflux.client;
      const context = new AudioContext();
      await context.resume();
      const probes = (client?.consumers ?? []).filter((consumer) => consumer.kind === 'audio').map((consumer) => {
        const analyser = context.createAnalyser();
        analyser.fftSize = 8192;
        analyser.smoothingTimeConstant = 0;
        context.createMediaStreamSource(new MediaStream([consumer.track])).connect(analyser);
        return {
          participantId: consumer.appData.participantId,
          analyser,
          time: new Float32Array(analyser.fftSize),
          spectrum: new Float32Array(analyser.frequencyBinCount),
          energy: new Float64Array(analyser.frequencyBinCount),
          rmsSum: 0,
          frames: 0,
        };
      });
      const end = performance.now() + duration;
      while (performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (const probe of probes) {
          probe.analyser.getFloatTimeDomainData(probe.time);
          let sum = 0;
          for (const sample of probe.time) sum += sample * sample;
          probe.rmsSum += Math.sqrt(sum / probe.time.length);
          probe.frames += 1;
          probe.analyser.getFloatFrequencyData(probe.spectrum);
          for (let bin = 0; bin < probe.spectrum.length; bin++) probe.energy[bin]! += 10 ** (probe.spectrum[bin]! / 10);
        }
      }
      const binHz = context.sampleRate / 8192;
      await context.close();
      return probes.map((probe) => {
        let peak = 1;
        // Skip the lowest bins: DC and rumble say nothing about which tone arrived.
        for (let bin = 2; bin < probe.energy.length; bin++) if (probe.energy[bin]! > probe.energy[peak]!) peak = bin;
        return {
          participantId: probe.participantId,
          rms: probe.frames ? probe.rmsSum / probe.frames : 0,
          dominantHz: peak * binHz,
        };
      });
    }, durationMs);
  }

  /** Closes the browser; never throws, so it is safe in `afterAll`. */
  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}
