/** RFC 3261 §7.3.3 and later RFCs' compact header forms. */
const COMPACT: Record<string, string> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type', f: 'From',
  s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', r: 'Refer-To', b: 'Referred-By',
  u: 'Allow-Events', x: 'Session-Expires', a: 'Accept-Contact', j: 'Reject-Contact', d: 'Request-Disposition',
  y: 'Identity',
};

const SPECIAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', rseq: 'RSeq', rack: 'RAck',
  'mime-version': 'MIME-Version', 'min-se': 'Min-SE', 'sip-etag': 'SIP-ETag', 'sip-if-match': 'SIP-If-Match',
};

/** Header fields whose value is a comma-separated list (RFC 3261 §7.3.1), so repeated lines and commas are equivalent. */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'allow-events', 'path', 'service-route', 'content-encoding',
  'in-reply-to', 'warning', 'error-info', 'alert-info', 'call-info', 'reason', 'content-language',
]);

/** The canonical spelling of a header name, expanding compact forms (`v` → `Via`, `call-id` → `Call-ID`). */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1 && COMPACT[lower]) return COMPACT[lower];
  const special = SPECIAL[lower];
  if (special) return special;
  return lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** True when the header's value is a comma-separated list. */
export function isListHeader(canonicalName: string): boolean {
  return LIST_HEADERS.has(canonicalName.toLowerCase());
}
