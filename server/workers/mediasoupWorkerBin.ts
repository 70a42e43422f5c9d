import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/build-mediasoup-worker.sh');

/**
 * Points mediasoup at the worker binary `npm install` built and cached. The build script owns the
 * cache path (version + flavour), so it is asked rather than the path being computed twice.
 */
export function resolveMediasoupWorkerBin(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.MEDIASOUP_WORKER_BIN;
  const bin = configured || execFileSync('bash', [BUILD_SCRIPT, '--path'], { encoding: 'utf8' }).trim();
  if (!existsSync(bin)) {
    throw new Error(`mediasoup worker binary not found at ${bin}; run \`npm install\` (it builds the worker)`);
  }
  env.MEDIASOUP_WORKER_BIN = bin;
  return bin;
}
