import { loadConfig, type Config } from '../config/Config.js';
import { readStoredSecrets } from '../config/secrets.js';

/** Where this machine's server listens and its API key, as the configuration `npm start` reads describes them. */
export interface LocalServer {
  url: string;
  /** The configured key, else the one the server generated in its data directory; null before its first start. */
  apiKey: string | null;
  /** Where a generated key is kept. */
  keyFile: string;
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '']);

/** The local server (throws ConfigError on a configuration the server itself would refuse). */
export function localServer(config: Config = loadConfig()): LocalServer {
  const { host, port, tls } = config.http;
  const address = ANY_ADDRESS.has(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const { secrets, file } = readStoredSecrets(config.dataDir);
  return { url: `${tls ? 'https' : 'http'}://${address}:${port}`, apiKey: config.auth.apiKey || secrets?.apiKey || null, keyFile: file };
}
