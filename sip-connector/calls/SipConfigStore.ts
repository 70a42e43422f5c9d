import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../../server/errors.js';
import { TypedEmitter } from '../sip/TypedEmitter.js';
import {
  DispatchRuleInput, InboundTrunkInput, OutboundTrunkInput, RouteInput, type DispatchRule, type InboundTrunk, type OutboundTrunk,
  type Route,
} from './SipCallSchemas.js';

/** What the store holds, by collection. */
export interface SipConfigItems {
  inboundTrunks: InboundTrunk;
  outboundTrunks: OutboundTrunk;
  dispatchRules: DispatchRule;
  routes: Route;
}
export type SipConfigKind = keyof SipConfigItems;

export type SipConfigStoreEvents = { change: [kind: SipConfigKind, id: string] };

/**
 * Durable trunks, dispatch rules and routes. The embedded default keeps them in one JSON file; a shared store
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

const schemas = { inboundTrunks: InboundTrunkInput, outboundTrunks: OutboundTrunkInput, dispatchRules: DispatchRuleInput, routes: RouteInput };
const KINDS = Object.keys(schemas) as SipConfigKind[];

type Collections = { [K in SipConfigKind]: Map<string, SipConfigItems[K]> };

/** The embedded store: `<dataDir>/sip-config.json`, rewritten atomically (temp file + rename) on change. */
export class JsonFileSipConfigStore extends TypedEmitter<SipConfigStoreEvents> implements SipConfigStore {
  readonly file: string;
  #collections: Collections = { inboundTrunks: new Map(), outboundTrunks: new Map(), dispatchRules: new Map(), routes: new Map() };

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

  /**
   * Writes what the collections would be with `change` applied, and only then applies it: a write that
   * fails (disk full, directory gone) changes nothing, in memory or on disk. The temp file is synced
   * before the rename, so a crash leaves the old file or the new one, never half of one.
   */
  #commit(change: (collections: Collections) => void): void {
    const current = this.#collections;
    const next = Object.fromEntries(KINDS.map((kind) => [kind, new Map(current[kind] as Map<string, unknown>)])) as unknown as Collections;
    change(next);
    const snapshot = Object.fromEntries(KINDS.map((kind) => [kind, [...next[kind].values()]]));
    const temp = `${this.file}.${process.pid}.tmp`;
    let opened = false;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const fd = openSync(temp, 'w', 0o600);
      opened = true;
      try {
        writeSync(fd, `${JSON.stringify(snapshot, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.file);
    } catch (error) {
      if (opened) rmSync(temp, { force: true });
      throw new StorageError(`cannot save the SIP configuration (${(error as NodeJS.ErrnoException).code ?? 'write failed'})`);
    }
    this.#collections = next;
  }

  list<K extends SipConfigKind>(kind: K): SipConfigItems[K][] {
    return [...this.#collections[kind].values()];
  }

  get<K extends SipConfigKind>(kind: K, id: string): SipConfigItems[K] | undefined {
    return this.#collections[kind].get(id);
  }

  put<K extends SipConfigKind>(kind: K, item: SipConfigItems[K]): 'created' | 'updated' {
    const existed = this.#collections[kind].has(item.id);
    this.#commit((next) => next[kind].set(item.id, item));
    this.safeEmit('change', kind, item.id);
    return existed ? 'updated' : 'created';
  }

  delete(kind: SipConfigKind, id: string): boolean {
    if (!this.#collections[kind].has(id)) return false;
    this.#commit((next) => next[kind].delete(id));
    this.safeEmit('change', kind, id);
    return true;
  }
}
