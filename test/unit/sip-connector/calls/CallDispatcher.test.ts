import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CallDispatcher } from '../../../../sip-connector/calls/CallDispatcher.js';
import { DispatchRuleInput, InboundTrunkInput } from '../../../../sip-connector/calls/SipCallSchemas.js';
import { JsonFileSipConfigStore } from '../../../../sip-connector/calls/SipConfigStore.js';
import { ForbiddenError, NotFoundError } from '../../../../server/errors.js';

function storeWith(trunks: unknown[], rules: unknown[]) {
  const store = new JsonFileSipConfigStore(mkdtempSync(path.join(os.tmpdir(), 'conflux-dispatch-')));
  for (const trunk of trunks) store.put('inboundTrunks', InboundTrunkInput.parse(trunk));
  for (const rule of rules) store.put('dispatchRules', DispatchRuleInput.parse(rule));
  return store;
}

describe('CallDispatcher', () => {
  const trunks = [
    { id: 'pbx', name: 'Office PBX', allowedAddresses: ['10.1.0.0/16'] },
    { id: 'carrier', name: 'Carrier', allowedAddresses: ['203.0.113.0/24'], numbers: ['+15550100', '+15550101'] },
    { id: 'roaming', name: 'Auth only', auth: { username: 'u', password: 'p' } },
  ];

  it('refuses a source no trunk allows with 403', () => {
    const dispatcher = new CallDispatcher(storeWith(trunks.slice(0, 2), []));
    expect(() => dispatcher.resolve({ sourceAddress: '198.51.100.9', calledNumber: '100', callerNumber: 'x' }))
      .toThrow(ForbiddenError);
    expect(() => dispatcher.matchTrunk({ sourceAddress: '203.0.113.5', calledNumber: '+15559999', callerNumber: 'x' }))
      .toThrow(ForbiddenError);
  });

  it('prefers address-restricted trunks and ones listing the number', () => {
    const dispatcher = new CallDispatcher(storeWith(trunks, []));
    expect(dispatcher.matchTrunk({ sourceAddress: '10.1.2.3', calledNumber: '100', callerNumber: 'x' }).id).toBe('pbx');
    expect(dispatcher.matchTrunk({ sourceAddress: '203.0.113.5', calledNumber: '+15550100', callerNumber: 'x' }).id).toBe('carrier');
    expect(dispatcher.matchTrunk({ sourceAddress: '198.51.100.9', calledNumber: '100', callerNumber: 'x' }).id).toBe('roaming');
  });

  it('answers 404 when no rule takes the call', () => {
    const dispatcher = new CallDispatcher(storeWith(trunks, [
      { id: 'sales', name: 'Sales', type: 'direct', room: 'sales', numbers: ['200'] },
      { id: 'carrier-only', name: 'C', type: 'direct', room: 'c', trunkIds: ['carrier'] },
    ]));
    expect(() => dispatcher.resolve({ sourceAddress: '10.1.2.3', calledNumber: '100', callerNumber: 'x' })).toThrow(NotFoundError);
  });

  it('maps direct, callee and per-caller rules to rooms by priority', () => {
    const dispatcher = new CallDispatcher(storeWith(trunks, [
      { id: 'fallback', name: 'Any', type: 'callee', roomPrefix: 'conf-', priority: 500 },
      { id: 'standup', name: 'Standup', type: 'direct', room: 'standup', numbers: ['100'], pin: '4321' },
      { id: 'support', name: 'Support', type: 'per-caller', roomPrefix: 'support-', numbers: ['300'] },
    ]));
    const direct = dispatcher.resolve({ sourceAddress: '10.1.2.3', calledNumber: '100', callerNumber: '555' });
    expect(direct).toMatchObject({ trunk: { id: 'pbx' }, rule: { id: 'standup', pin: '4321', pinMaxAttempts: 3 }, room: 'standup' });
    expect(dispatcher.resolve({ sourceAddress: '10.1.2.3', calledNumber: '+44 20/7946', callerNumber: '555' }).room).toBe('conf-44207946');
    const one = dispatcher.resolve({ sourceAddress: '10.1.2.3', calledNumber: '300', callerNumber: '+1 555' }).room;
    const two = dispatcher.resolve({ sourceAddress: '10.1.2.3', calledNumber: '300', callerNumber: '+1 555' }).room;
    expect(one).toMatch(/^support-1555-[0-9a-f]{6}$/);
    expect(one).not.toBe(two);
  });
});

describe('SIP config schemas', () => {
  it('refuses an inbound trunk open to anyone, and bad fields', () => {
    expect(InboundTrunkInput.safeParse({ id: 'open', name: 'Open' }).success).toBe(false);
    expect(InboundTrunkInput.safeParse({ id: 'x', name: 'X', allowedAddresses: ['300.0.0.0/8'] }).success).toBe(false);
    expect(InboundTrunkInput.safeParse({ id: 'bad id', name: 'X', allowedAddresses: ['10.0.0.0/8'] }).success).toBe(false);
    expect(DispatchRuleInput.safeParse({ id: 'r', name: 'R', type: 'direct' }).success).toBe(false);
    expect(DispatchRuleInput.safeParse({ id: 'r', name: 'R', type: 'teleport', room: 'x' }).success).toBe(false);
    expect(DispatchRuleInput.safeParse({ id: 'r', name: 'R', type: 'direct', room: 'x', pin: '12' }).success).toBe(false);
  });
});
