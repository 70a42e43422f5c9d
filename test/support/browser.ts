import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser; override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--autoplay-policy=no-user-gesture-required',
  // Tests run in a loopback-only network namespace; ICE must be allowed to use 127.0.0.1.
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export interface LaunchBrowserOptions {
  /** Absolute path of a 48 kHz WAV the fake microphone plays (one per browser process). */
  fakeAudioFile?: string;
  timeoutMs?: number;
  /** Further switches, e.g. `--ignore-certificate-errors` for a test's self-signed WSS certificate. */
  extraArgs?: string[];
}

/** Launches headless Chromium with fake camera and microphone, granting media permissions without a prompt. */
export function launchBrowser({ fakeAudioFile, timeoutMs = 30_000, extraArgs = [] }: LaunchBrowserOptions = {}): Promise<Browser> {
  const args = [...CHROMIUM_ARGS, ...(fakeAudioFile ? [`--use-file-for-fake-audio-capture=${fakeAudioFile}`] : []), ...extraArgs];
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args, timeout: timeoutMs });
}
