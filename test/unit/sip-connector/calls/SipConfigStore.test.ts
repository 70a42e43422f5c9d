import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InboundTrunkInput, OutboundTrunkInput } from '../../../../sip-connector/calls/SipCallSchemas.js';
import { JsonFileSipConfigStore } from '../../../../sip-connector/calls/SipConfigStore.js';
import { StorageError } from '../../../../server/errors.js';

describe('JsonFileSipConfigStore', () => {
  it('keeps trunks across instances (a restart) in a private file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-store-'));
    const first = new JsonFileSipConfigStore(dir);
    const changes: string[] = [];
    first.on('change', (kind, id) => changes.push(`${kind}/${id}`));
    expect(first.put('inboundTrunks', InboundTrunkInput.parse({ id: 'pbx', name: 'PBX', allowedAddresses: ['10.0.0.0/8'] }))).toBe('created');
    expect(first.put('outboundTrunks', OutboundTrunkInput.parse({ id: 'out', name: 'Out', host: 'sip.example.net', fromNumber: '+15550100', auth: { username: 'u', password: 'secret' } }))).toBe('created');
    expect(first.put('inboundTrunks', InboundTrunkInput.parse({ id: 'pbx', name: 'PBX 2', allowedAddresses: ['10.0.0.0/8'] }))).toBe('updated');
    expect(changes).toEqual(['inboundTrunks/pbx', 'outboundTrunks/out', 'inboundTrunks/pbx']);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);

    const second = new JsonFileSipConfigStore(dir);
    expect(second.get('inboundTrunks', 'pbx')?.name).toBe('PBX 2');
    expect(second.get('outboundTrunks', 'out')).toMatchObject({ port: 5060, transport: 'udp', auth: { password: 'secret' } });
    expect(second.delete('inboundTrunks', 'pbx')).toBe(true);
    expect(second.delete('inboundTrunks', 'pbx')).toBe(false);
    expect(new JsonFileSipConfigStore(dir).list('inboundTrunks')).toEqual([]);
  });

  it('changes nothing, in memory or on disk, when the write fails', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-store-'));
    const store = new JsonFileSipConfigStore(dir);
    const trunk = (id: string) => InboundTrunkInput.parse({ id, name: id, allowedAddresses: ['192.0.2.1'] });
    store.put('inboundTrunks', trunk('kept'));
    const before = readFileSync(store.file, 'utf8');
    const changes: string[] = [];
    store.on('change', (kind, id) => changes.push(`${kind}/${id}`));
    // The temp file's place is taken (as a full or read-only disk would refuse it): the write fails.
    const temp = `${store.file}.${process.pid}.tmp`;
    mkdirSync(temp);
    expect(() => store.put('inboundTrunks', trunk('lost'))).toThrow(StorageError);
    expect(() => store.delete('inboundTrunks', 'kept')).toThrow(StorageError);
    expect(store.list('inboundTrunks').map((t) => t.id)).toEqual(['kept']);
    expect(changes).toEqual([]);
    expect(readFileSync(store.file, 'utf8')).toBe(before);
    rmSync(temp, { recursive: true });
    // The data directory itself gone and a file in its place: still nothing half-written, nothing applied.
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory');
    expect(() => store.put('inboundTrunks', trunk('lost'))).toThrow(/cannot save the SIP configuration/);
    expect(store.get('inboundTrunks', 'lost')).toBeUndefined();
    rmSync(dir);
    mkdirSync(dir);
    store.put('inboundTrunks', trunk('later'));
    expect(new JsonFileSipConfigStore(dir).list('inboundTrunks').map((t) => t.id)).toEqual(['kept', 'later']);
    expect(readdirSync(dir)).toEqual(['sip-config.json']);
  });

  it('refuses a hand-edited file with an invalid entry instead of running with it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conflux-store-'));
    writeFileSync(path.join(dir, 'sip-config.json'), JSON.stringify({ inboundTrunks: [{ id: 'x', name: 'open' }] }));
    expect(() => new JsonFileSipConfigStore(dir)).toThrow(/invalid entry in inboundTrunks/);
    expect(readFileSync(path.join(dir, 'sip-config.json'), 'utf8')).toContain('open');
  });

  it('lets a trunk list G722 among its codecs while the default list stays PCMU, PCMA, Opus', () => {
    const base = { id: 'pbx', name: 'PBX', allowedAddresses: ['10.0.0.0/8'] };
    expect(InboundTrunkInput.parse(base).codecs).toEqual(['PCMU', 'PCMA', 'opus']);
    expect(InboundTrunkInput.parse({ ...base, codecs: ['G722', 'PCMU'] }).codecs).toEqual(['G722', 'PCMU']);
    const out = { id: 'out', name: 'Out', host: 'sip.example.net', fromNumber: '+15550100' };
    expect(OutboundTrunkInput.parse({ ...out, codecs: ['G722'] }).codecs).toEqual(['G722']);
    expect(OutboundTrunkInput.safeParse({ ...out, codecs: ['G729'] }).success).toBe(false);
  });
});
