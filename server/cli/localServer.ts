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

/** The URL of the server's HTTP listener on `port` as seen from this machine: loopback when it binds every interface. */
export function localHttpUrl(http: Pick<Config['http'], 'host' | 'tls'>, port: number): string {
  const address = ANY_ADDRESS.has(http.host) ? '127.0.0.1' : http.host.includes(':') ? `[${http.host}]` : http.host;
  return `${http.tls ? 'https' : 'http'}://${address}:${port}`;
}

/** The local server (throws ConfigError on a configuration the server itself would refuse). */
export function localServer(config: Config = loadConfig()): LocalServer {
  const { secrets, file } = readStoredSecrets(config.dataDir);
  return { url: localHttpUrl(config.http, config.http.port), apiKey: config.auth.apiKey || secrets?.apiKey || null, keyFile: file };
}
