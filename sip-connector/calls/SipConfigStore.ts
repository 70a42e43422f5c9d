import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import {
  DispatchRuleInput, InboundTrunkInput, OutboundTrunkInput, type DispatchRule, type InboundTrunk, type OutboundTrunk,
} from './SipCallSchemas.js';

/** What the store holds, by collection. */
export interface SipConfigItems {
  inboundTrunks: InboundTrunk;
  outboundTrunks: OutboundTrunk;
  dispatchRules: DispatchRule;
}
export type SipConfigKind = keyof SipConfigItems;

export type SipConfigStoreEvents = { change: [kind: SipConfigKind, id: string] };

/**
 * Durable trunks and dispatch rules. The embedded default keeps them in one JSON file; a shared store
 * (for several nodes) implements the same interface.
 */
export interface SipConfigStore extends TypedEmitter<SipConfigStoreEvents> {
  list<K extends SipConfigKind>(kind: K): SipConfigItems[K][];
  get<K extends SipConfigKind>(kind: K, id: string): SipConfigItems[K] | undefined;
  /** Inserts or replaces by id; says which. */
  put<K extends SipConfigKind>(kind: K, item: SipConfigItems[K]): 'created' | 'updated';
  /** False when there was nothing to delete. */
  delete(kind: SipConfigKind, id: string): boolean;
}

const schemas = { inboundTrunks: InboundTrunkInput, outboundTrunks: OutboundTrunkInput, dispatchRules: DispatchRuleInput };
const KINDS = Object.keys(schemas) as SipConfigKind[];

type Collections = { [K in SipConfigKind]: Map<string, SipConfigItems[K]> };

/** The embedded store: `<dataDir>/sip-config.json`, rewritten atomically (temp file + rename) on change. */
export class JsonFileSipConfigStore extends TypedEmitter<SipConfigStoreEvents> implements SipConfigStore {
  readonly file: string;
  readonly #collections: Collections = { inboundTrunks: new Map(), outboundTrunks: new Map(), dispatchRules: new Map() };

  constructor(dataDir: string) {
    super();
    this.file = path.resolve(dataDir, 'sip-config.json');
    this.#load();
  }

  #load(): void {
    if (!existsSync(this.file)) return;
    const stored = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<Record<SipConfigKind, unknown[]>>;
    for (const kind of KINDS) {
      for (const raw of stored[kind] ?? []) {
        // Re-validate: the file may have been edited by hand or written by an older version.
        const parsed = schemas[kind].safeParse(raw);
        if (!parsed.success) throw new Error(`${this.file}: invalid entry in ${kind}: ${parsed.error.message}`);
        (this.#collections[kind] as Map<string, unknown>).set(parsed.data.id, parsed.data);
      }
    }
  }

  #save(): void {
    const snapshot = Object.fromEntries(KINDS.map((kind) => [kind, [...this.#collections[kind].values()]]));
    mkdirSync(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(snapshot, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.file);
  }

  list<K extends SipConfigKind>(kind: K): SipConfigItems[K][] {
    return [...this.#collections[kind].values()];
  }

  get<K extends SipConfigKind>(kind: K, id: string): SipConfigItems[K] | undefined {
    return this.#collections[kind].get(id);
  }

  put<K extends SipConfigKind>(kind: K, item: SipConfigItems[K]): 'created' | 'updated' {
    const existed = this.#collections[kind].has(item.id);
    this.#collections[kind].set(item.id, item);
    this.#save();
    this.safeEmit('change', kind, item.id);
    return existed ? 'updated' : 'created';
  }

  delete(kind: SipConfigKind, id: string): boolean {
    const existed = this.#collections[kind].delete(id);
    if (existed) {
      this.#save();
      this.safeEmit('change', kind, id);
    }
    return existed;
  }
}
