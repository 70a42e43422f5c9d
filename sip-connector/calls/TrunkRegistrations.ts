import { createLogger } from '../../server/logging/Logger.js';
import { RegistrationClient } from '../sip/RegistrationClient.js';
import type { UserAgent } from '../sip/UserAgent.js';
import type { OutboundTrunk } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';

export interface TrunkRegistrationStatus {
  trunkId: string;
  state: 'registering' | 'registered' | 'failed';
  aor: string;
  expiresSec: number | null;
  lastStatus: number | null;
  lastReason: string | null;
  updatedAt: string;
}

const logger = createLogger('trunk-registrations');

/** Keeps a REGISTER alive for every outbound trunk that asks for one, following trunk changes. */
export class TrunkRegistrations {
  readonly #ua: UserAgent;
  readonly #store: SipConfigStore;
  readonly #clients = new Map<string, { client: RegistrationClient; trunk: OutboundTrunk; status: TrunkRegistrationStatus }>();
  readonly #onChange = (kind: string, id: string) => {
    if (kind === 'outboundTrunks') this.#sync(id);
  };

  constructor(ua: UserAgent, store: SipConfigStore) {
    this.#ua = ua;
    this.#store = store;
    store.on('change', this.#onChange);
    for (const trunk of store.list('outboundTrunks')) this.#sync(trunk.id);
  }

  /** Registration state of every registering trunk. */
  list(): TrunkRegistrationStatus[] {
    return [...this.#clients.values()].map((entry) => ({ ...entry.status }));
  }

  #sync(trunkId: string): void {
    const trunk = this.#store.get('outboundTrunks', trunkId);
    const current = this.#clients.get(trunkId);
    if (current && trunk && JSON.stringify(current.trunk) === JSON.stringify(trunk)) return;
    if (current) {
      this.#clients.delete(trunkId);
      void current.client.stop().catch(() => undefined);
    }
    if (!trunk?.register) return;
    const host = trunk.host.includes(':') ? `[${trunk.host}]` : trunk.host;
    const aor = `sip:${trunk.auth?.username ?? trunk.fromNumber}@${host}`;
    const client = new RegistrationClient(this.#ua, {
      registrar: `sip:${host}:${trunk.port};transport=${trunk.transport}`,
      aor,
      ...(trunk.auth ? { credentials: trunk.auth } : {}),
      expiresSec: trunk.registerExpiresSeconds,
    });
    const status: TrunkRegistrationStatus = {
      trunkId, state: 'registering', aor, expiresSec: null, lastStatus: null, lastReason: null, updatedAt: new Date().toISOString(),
    };
    client.on('registered', (expiresSec) => {
      Object.assign(status, { state: 'registered', expiresSec, lastStatus: 200, lastReason: 'OK', updatedAt: new Date().toISOString() });
      logger.info({ trunkId, aor, expiresSec }, 'trunk registered');
    });
    client.on('failed', (code, reason, retryInMs) => {
      Object.assign(status, { state: 'failed', lastStatus: code, lastReason: reason, updatedAt: new Date().toISOString() });
      logger.warn({ trunkId, aor, status: code, reason, retryInMs }, 'trunk registration failed');
    });
    this.#clients.set(trunkId, { client, trunk, status });
    client.start();
  }

  /** Unregisters every trunk. */
  async close(): Promise<void> {
    this.#store.off('change', this.#onChange);
    await Promise.all([...this.#clients.values()].map((entry) => entry.client.stop().catch(() => undefined)));
    this.#clients.clear();
  }
}
