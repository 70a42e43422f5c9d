import type { InboundTrunk, OutboundTrunk, Route } from './SipCallSchemas.js';
import type { SipConfigStore } from './SipConfigStore.js';

type UserToTrunk = Extract<Route, { type: 'user-to-trunk' }>;
type TrunkToUser = Extract<Route, { type: 'trunk-to-user' }>;

/** A registered user's call to a number, sent out through a trunk. */
export interface TrunkRouting {
  route: UserToTrunk;
  trunk: OutboundTrunk;
  /** The number the trunk is asked for: the dialled one, with `stripDigits` removed and `addPrefix` put in front. */
  number: string;
}

/** A trunk's call, delivered to a registered user. */
export interface UserRouting {
  route: TrunkToUser;
  user: string;
}

/** Whether `route` takes `dialled`: a listed number, a listed prefix, or (neither listed) any number. */
function takes(route: Route, dialled: string): boolean {
  if (route.numbers.length === 0 && route.prefixes.length === 0) return true;
  return route.numbers.includes(dialled) || route.prefixes.some((prefix) => dialled.startsWith(prefix));
}

/** Lowest priority first; the id breaks ties, so the order never depends on when a route was stored. */
const inOrder = <R extends Route>(routes: R[]): R[] => routes.sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));

/**
 * The routes of the SIP configuration, asked in one order: the first route (by `priority`, then `id`) whose
 * numbers or prefixes take the dialled number, among those of the call's kind that apply to its caller.
 */
export class CallRoutes {
  readonly #store: SipConfigStore;

  constructor(store: SipConfigStore) {
    this.#store = store;
  }

  /** Where `user`'s call to `dialled` (not a user of ours) goes out, if a route takes it and its trunk exists. */
  forUserCall(user: string, dialled: string): TrunkRouting | undefined {
    const candidates = this.#store.list('routes').filter((route): route is UserToTrunk => route.type === 'user-to-trunk')
      .filter((route) => (route.users.length === 0 || route.users.includes(user)) && takes(route, dialled));
    for (const route of inOrder(candidates)) {
      const trunk = this.#store.get('outboundTrunks', route.outboundTrunkId);
      const number = `${route.addPrefix}${dialled.slice(route.stripDigits)}`;
      // A route whose trunk is gone, or that would strip the whole number, passes the call on to the next one.
      if (!trunk || !/[0-9A-Za-z]/.test(number)) continue;
      return { route, trunk, number };
    }
    return undefined;
  }

  /** The user a call on `trunk` to `called` goes to, if a route takes it. */
  forTrunkCall(trunk: InboundTrunk, called: string): UserRouting | undefined {
    const candidates = this.#store.list('routes').filter((route): route is TrunkToUser => route.type === 'trunk-to-user')
      .filter((route) => (route.trunkIds.length === 0 || route.trunkIds.includes(trunk.id)) && takes(route, called));
    const route = inOrder(candidates)[0];
    return route ? { route, user: route.user ?? called } : undefined;
  }
}
