import type { IncomingCall } from '../sip/IncomingCall.js';

/**
 * Max-Forwards for the leg that continues `sip`'s call: one hop fewer than it came with. A call routed back
 * to us (a trunk pointing at this server, two servers pointing at each other) so dies out with 483 after at
 * most 70 legs instead of looping for ever.
 */
export function hopsLeft(sip: IncomingCall): number {
  const came = Number(sip.invite.get('Max-Forwards') ?? 70);
  return Math.max(0, (Number.isInteger(came) ? came : 70) - 1);
}
