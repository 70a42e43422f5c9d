import { ConfigError, loadConfig } from './config/Config.js';
import { readStoredSecrets } from './config/secrets.js';

/**
 * `npm run --silent api-key`: prints the REST API key of the server this machine's configuration describes
 * (the same file and environment `npm start` reads): the configured `auth.apiKey`, else the one the server
 * generated in its data directory.
 */
function main(): number {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  if (config.auth.apiKey) {
    process.stdout.write(`${config.auth.apiKey}\n`);
    return 0;
  }
  const { secrets, file } = readStoredSecrets(config.dataDir);
  if (!secrets) {
    console.error(`no API key yet: the server generates one in ${file} when it first starts (npm start)`);
    return 1;
  }
  process.stdout.write(`${secrets.apiKey}\n`);
  return 0;
}

process.exitCode = main();
