import { ConfigError, loadConfig } from './config/Config.js';
import type { ConfluxServer } from './ConfluxServer.js';
import { createLogger, wantsPrettyLogs } from './logging/Logger.js';
import { startupBlock } from './startupBlock.js';
import { startupFailureLine } from './startupFailure.js';
import { resolveMediasoupWorkerBin } from './workers/mediasoupWorkerBin.js';

/** `npm start`: one node with in-process state, configured by defaults ← $CONFLUX_CONFIG file ← env. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger('main');
  let server: ConfluxServer;
  try {
    // mediasoup fixes its worker's path when its module first loads, and the server's modules load it: the
    // path `npm install` built is set before they are imported.
    resolveMediasoupWorkerBin();
    const { ConfluxServer: Server } = await import('./ConfluxServer.js');
    server = await Server.start(config);
  } catch (error) {
    // One line for the operator; the stack only when debugging.
    console.error(startupFailureLine(error, config));
    if (config.log.level === 'debug' || config.log.level === 'trace') console.error(error);
    process.exit(2);
  }
  // For a person at a terminal, one block; otherwise the `listening` log line says where the server is.
  if (wantsPrettyLogs(config.log.pretty)) process.stdout.write(startupBlock({ httpUrl: server.httpUrl, sipPorts: server.sip?.ports ?? null }, config));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('conflux failed to start:', error);
  process.exit(1);
});
