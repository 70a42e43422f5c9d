import type { Config } from './config/Config.js';

type SystemError = NodeJS.ErrnoException & { address?: string; port?: number };

/** The settings a listening port comes from, for naming the one to change. */
function portSettings(config: Config): Array<[setting: string, port: number | null]> {
  const { http, sip } = config;
  return [
    ['http.port (CONFLUX_HTTP_PORT)', http.port], ['sip.udpPort (CONFLUX_SIP_UDP_PORT)', sip.udpPort],
    ['sip.tcpPort (CONFLUX_SIP_TCP_PORT)', sip.tcpPort], ['sip.tlsPort', sip.tlsPort], ['sip.wsPort (CONFLUX_SIP_WS_PORT)', sip.wsPort],
    ['sip.wssPort', sip.wssPort],
  ];
}

function settingOfPort(config: Config, port: number | undefined): string {
  const settings = portSettings(config).filter(([, value]) => value === port).map(([setting]) => setting);
  return settings.length > 0 ? settings.join(' or ') : 'its setting';
}

/**
 * One line saying why the server could not start (what, which port or file) and what to do about it, for
 * the operator; the stack trace stays out of it.
 */
export function startupFailureLine(error: unknown, config: Config): string {
  const failure = error as SystemError;
  const where = failure.port !== undefined ? `${failure.address ?? ''}:${failure.port}` : failure.address ?? '';
  switch (failure.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is in use by another process; stop it or change ${settingOfPort(config, failure.port)}`;
    case 'EACCES':
      if (failure.syscall === 'listen' || failure.syscall === 'bind') {
        return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); change ${settingOfPort(config, failure.port)}`;
      }
      return `permission denied: ${failure.path ?? failure.message}; make it readable and writable for this user, or set dataDir (CONFLUX_DATA_DIR) elsewhere`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: not an address of this machine; use one of its addresses, or 0.0.0.0`;
    case 'ENOENT':
      if (failure.syscall?.startsWith('spawn')) return `cannot run ${failure.path ?? 'a program'}: not found; run \`npm install\` (it builds the mediasoup worker)`;
      return `file not found: ${failure.path ?? failure.message}; check the paths in the configuration (TLS certFile/keyFile, dataDir)`;
    default:
      return `conflux failed to start: ${failure.message ?? String(error)}`;
  }
}
