import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, spawnPeer, waitFor, type Peer } from '../integration/sip-connector/peers.js';
import { SIP_FIXTURES } from './sipCalls.js';

/** A Kamailio from the fixture config: digest-authenticated REGISTER for every user, calls relayed to registered contacts. */
export interface Kamailio {
  /** Its scratch directory (config, PID file, control socket). */
  dir: string;
  peer: Peer;
  /** Its output so far. */
  output: () => string;
  /** The location table (`kamcmd ul.dump`): who is registered, at which contact. */
  registrations: () => string;
  /** Stops it through its PID file (its main process forks children) and waits until it is gone. */
  stop: () => Promise<void>;
}

/** Starts Kamailio on 127.0.0.1:`port`, where every user's password is `password`, and waits until it runs. */
export async function startKamailio(opts: { port: number; password: string; name: string }): Promise<Kamailio> {
  const dir = scratchDir(opts.name);
  const pidFile = join(dir, 'kam.pid');
  const ctl = join(dir, 'ctl');
  const cfg = readFileSync(join(SIP_FIXTURES, 'kamailio/kamailio.cfg'), 'utf8')
    .replaceAll('@PORT@', String(opts.port)).replaceAll('@CTL@', ctl).replaceAll('@PASSWORD@', opts.password);
  writeFileSync(join(dir, 'kamailio.cfg'), cfg);
  const peer = spawnPeer('kamailio', ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-w', dir, '-Y', dir, '-P', pidFile], { timeoutMs: 120_000 });
  const kamailio: Kamailio = {
    dir, peer,
    output: () => peer.output(),
    registrations: () => execFileSync('kamcmd', ['-s', `unix:${ctl}`, 'ul.dump'], { encoding: 'utf8', timeout: 5000 }),
    stop: async () => {
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
        const start = Date.now();
        while (Date.now() - start < 5000) {
          try { process.kill(pid, 0); } catch { break; }
          await new Promise((r) => setTimeout(r, 50));
        }
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      await peer.stop();
    },
  };
  try {
    // Kamailio writes its PID file once it runs, and stop() needs it.
    await waitFor(() => existsSync(pidFile), 10_000, 'kamailio start');
  } catch (error) {
    await kamailio.stop();
    throw error;
  }
  await new Promise((r) => setTimeout(r, 500));
  return kamailio;
}
