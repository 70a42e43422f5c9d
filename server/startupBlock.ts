import type { Config } from './config/Config.js';
import { readStoredSecrets } from './config/secrets.js';

/** What the start-up block needs of the running server. */
export interface StartedServer {
  httpUrl: string;
  /** Bound SIP ports by transport, when SIP is on. */
  sipPorts: Partial<Record<string, number>> | null;
}

/**
 * The block a person sees when the server is up (on a terminal): where the web client, the API and its
 * document, and SIP are, and how to get the API key and use the CLI.
 */
export function startupBlock(server: StartedServer, config: Config): string {
  const url = server.httpUrl;
  const sip = server.sipPorts && Object.keys(server.sipPorts).length > 0
    ? `${Object.entries(server.sipPorts).map(([transport, port]) => `${transport} ${port}`).join(', ')} (domain ${config.sip.domain})`
    : 'off';
  const key = config.auth.apiKey ? 'set in the configuration' : `kept in ${readStoredSecrets(config.dataDir).file}`;
  const lines = [
    'conflux is ready',
    ...(config.http.serveClient ? [`  web client   ${url}/`] : []),
    `  REST API     ${url}/api/v1   (docs: ${url}/docs, OpenAPI: ${url}/openapi.json)`,
    `  SIP          ${sip}`,
    `  API key      npx conflux api-key   (${key})`,
    '  CLI          npx conflux --help',
  ];
  return `${lines.join('\n')}\n`;
}
