import type { SipRequest } from './SipRequest.js';

/**
 * User-Agents of SIP scanners and war-diallers (SIPVicious and its friendly-scanner disguise, sipcli,
 * sundayddr, iWar, SIVuS, VaxSIPUserAgent, smap, sip-scan): requests from them get no answer at all, so a
 * scan learns nothing (not even that something listens) and costs us one parse.
 */
const SCANNER_AGENTS = /friendly-scanner|sipvicious|sip-scan|sipcli|sundayddr|iwar|sivus|vaxsipuseragent|\bsmap\b/i;

/** Whether a request comes from a known scanner by its User-Agent. */
export function isScanner(req: SipRequest): boolean {
  const agent = req.get('User-Agent');
  return agent !== undefined && SCANNER_AGENTS.test(agent);
}
