import { randomBytes } from 'node:crypto';
import { ForbiddenError, NotFoundError } from '../../server/errors.js';
import { CidrMatcher } from './CidrMatcher.js';
import type { DispatchRule, InboundTrunk } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';

export interface InboundCallFacts {
  /** Where the INVITE came from (transport source address). */
  sourceAddress: string;
  /** The To/Request-URI user part. */
  calledNumber: string;
  /** The From user part. */
  callerNumber: string;
}

export interface DispatchDecision {
  trunk: InboundTrunk;
  rule: DispatchRule;
  room: string;
}

/** Room names keep to a safe alphabet; phone numbers and SIP users are squeezed into it. */
function roomSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 40) || 'anonymous';
}

const appliesTo = (numbers: readonly string[], called: string) => numbers.length === 0 || numbers.includes(called);

/**
 * Decides where an inbound call goes: the trunk it arrives on (by source address and called number)
 * and the first matching dispatch rule. Errors carry their SIP status: 403 for a source no trunk
 * allows, 404 when no rule takes the number.
 */
export class CallDispatcher {
  readonly #store: SipConfigStore;

  constructor(store: SipConfigStore) {
    this.#store = store;
  }

  /** The inbound trunk for this call, or ForbiddenError (403). */
  matchTrunk(facts: InboundCallFacts): InboundTrunk {
    const candidates = this.#store.list('inboundTrunks').filter((trunk) => appliesTo(trunk.numbers, facts.calledNumber));
    // Address-restricted trunks are more specific than credential-only ones, and a trunk that lists the
    // number beats one that serves all numbers.
    const ranked = candidates
      .filter((trunk) => trunk.allowedAddresses.length === 0 || new CidrMatcher(trunk.allowedAddresses).matches(facts.sourceAddress))
      .sort((a, b) => score(b, facts.calledNumber) - score(a, facts.calledNumber));
    const trunk = ranked[0];
    if (!trunk) throw new ForbiddenError(`no inbound trunk accepts calls from ${facts.sourceAddress} to ${facts.calledNumber}`);
    return trunk;
  }

  /**
   * The rule and room for a call on a trunk, or (`trunk` null) a registered user's call, which only rules
   * naming no trunk take; NotFoundError (404) when none does.
   */
  matchRule(trunk: InboundTrunk | null, facts: InboundCallFacts): { rule: DispatchRule; room: string } {
    const rule = this.#store.list('dispatchRules')
      .filter((candidate) => candidate.trunkIds.length === 0 || (trunk !== null && candidate.trunkIds.includes(trunk.id)))
      .filter((candidate) => appliesTo(candidate.numbers, facts.calledNumber))
      .sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id))[0];
    if (!rule) throw new NotFoundError(`no dispatch rule for ${facts.calledNumber}${trunk ? ` on trunk ${trunk.id}` : ''}`);
    return { rule, room: roomFor(rule, facts) };
  }

  /** Trunk, rule and room in one step. */
  resolve(facts: InboundCallFacts): DispatchDecision {
    const trunk = this.matchTrunk(facts);
    return { trunk, ...this.matchRule(trunk, facts) };
  }
}

function score(trunk: InboundTrunk, called: string): number {
  return (trunk.allowedAddresses.length > 0 ? 2 : 0) + (trunk.numbers.includes(called) ? 1 : 0);
}

function roomFor(rule: DispatchRule, facts: InboundCallFacts): string {
  switch (rule.type) {
    case 'direct':
      return rule.room;
    case 'callee':
      return `${rule.roomPrefix}${roomSafe(facts.calledNumber)}`;
    case 'per-caller':
      return `${rule.roomPrefix}${roomSafe(facts.callerNumber)}-${randomBytes(3).toString('hex')}`;
  }
}
