import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CallRoutes } from '../../../../sip-connector/calls/CallRoutes.js';
import { InboundTrunkInput, OutboundTrunkInput, RouteInput } from '../../../../sip-connector/calls/SipCallSchemas.js';
import { JsonFileSipConfigStore } from '../../../../sip-connector/calls/SipConfigStore.js';

function storeWith(routes: unknown[]) {
  const store = new JsonFileSipConfigStore(mkdtempSync(path.join(os.tmpdir(), 'conflux-routes-')));
  store.put('outboundTrunks', OutboundTrunkInput.parse({ id: 'pbx', name: 'PBX', host: '10.0.0.5', fromNumber: '2000' }));
  store.put('outboundTrunks', OutboundTrunkInput.parse({ id: 'carrier', name: 'Carrier', host: 'sip.example.net', fromNumber: '+15550100' }));
  for (const route of routes) store.put('routes', RouteInput.parse(route));
  return store;
}
const inbound = (id: string) => InboundTrunkInput.parse({ id, name: id, allowedAddresses: ['10.0.0.5'] });

describe('CallRoutes', () => {
  it('sends a user\'s number out through the first route that takes it, by priority then id', () => {
    const routes = new CallRoutes(storeWith([
      { id: 'b-everything', name: 'all to the PBX', type: 'user-to-trunk', outboundTrunkId: 'pbx', priority: 500 },
      { id: 'a-outside', name: 'outside line', type: 'user-to-trunk', outboundTrunkId: 'carrier', prefixes: ['9'], stripDigits: 1, addPrefix: '+1', callerId: 'trunk' },
      { id: 'c-emergency', name: 'emergency', type: 'user-to-trunk', outboundTrunkId: 'carrier', numbers: ['911'], priority: 1 },
      { id: 'd-alice-only', name: 'alice', type: 'user-to-trunk', outboundTrunkId: 'carrier', prefixes: ['7'], users: ['alice'] },
    ]));
    expect(routes.forUserCall('bob', '95551234')).toMatchObject({ route: { id: 'a-outside' }, trunk: { id: 'carrier' }, number: '+15551234' });
    // 911 starts with 9 too: the emergency route's priority 1 goes before the outside line's 100.
    expect(routes.forUserCall('bob', '911')).toMatchObject({ route: { id: 'c-emergency' }, number: '911' });
    expect(routes.forUserCall('bob', '1001')).toMatchObject({ route: { id: 'b-everything' }, trunk: { id: 'pbx' }, number: '1001' });
    expect(routes.forUserCall('alice', '7100')?.route.id).toBe('d-alice-only');
    expect(routes.forUserCall('bob', '7100')?.route.id).toBe('b-everything');
  });

  it('passes over a route that would strip the whole number, and answers nothing without a route', () => {
    const routes = new CallRoutes(storeWith([
      { id: 'strip', name: 'strip', type: 'user-to-trunk', outboundTrunkId: 'carrier', prefixes: ['9'], stripDigits: 3 },
    ]));
    expect(routes.forUserCall('bob', '9')).toBeUndefined();
    expect(routes.forUserCall('bob', '9123')?.number).toBe('3');
    expect(routes.forUserCall('bob', '8123')).toBeUndefined();
  });

  it('sends a trunk\'s call to the route\'s user, or the user the called number names', () => {
    const routes = new CallRoutes(storeWith([
      { id: 'reception', name: 'reception', type: 'trunk-to-user', numbers: ['+15550100'], user: 'alice', trunkIds: ['carrier-in'] },
      { id: 'extensions', name: 'extensions', type: 'trunk-to-user', prefixes: ['1'], trunkIds: ['pbx-in'] },
    ]));
    expect(routes.forTrunkCall(inbound('carrier-in'), '+15550100')).toMatchObject({ route: { id: 'reception' }, user: 'alice' });
    expect(routes.forTrunkCall(inbound('pbx-in'), '+15550100')).toBeUndefined();
    expect(routes.forTrunkCall(inbound('pbx-in'), '1002')).toMatchObject({ route: { id: 'extensions' }, user: '1002' });
    expect(routes.forTrunkCall(inbound('carrier-in'), '1002')).toBeUndefined();
  });

  it('refuses invalid routes with the field named', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ id: 'r', name: 'R', type: 'user-to-trunk' }, /outboundTrunkId/],
      [{ id: 'r', name: 'R', type: 'user-to-trunk', outboundTrunkId: 'pbx', addPrefix: '+1a' }, /addPrefix/],
      [{ id: 'r', name: 'R', type: 'user-to-trunk', outboundTrunkId: 'pbx', stripDigits: 99 }, /stripDigits/],
      [{ id: 'r', name: 'R', type: 'trunk-to-user', user: 'not a user' }, /user/],
      [{ id: 'r', name: 'R', type: 'to-room' }, /type/],
      [{ id: 'r', name: 'R', type: 'trunk-to-user', prefixes: ['1 2'] }, /prefix/],
    ];
    for (const [input, message] of bad) {
      const parsed = RouteInput.safeParse(input);
      expect(parsed.success, JSON.stringify(input)).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toMatch(message);
    }
  });
});
