import { ConfigError, loadConfig } from './config/Config.js';
import { ConfluxServer } from './ConfluxServer.js';
import { createLogger } from './logging/Logger.js';

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
  const server = await ConfluxServer.start(config);
  logger.info(`web client at ${server.httpUrl}/`);
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
