import { canonicalHeaderName } from './HeaderNames.js';
import { NameAddr } from './NameAddr.js';
import { SipParseError } from './SipParseError.js';
import { DEFAULT_PARSER_LIMITS, type SipParseResult, type SipParserLimits } from './SipParserTypes.js';
import { SipRequest } from './SipRequest.js';
import { SipResponse } from './SipResponse.js';
import { SipUri } from './SipUri.js';
import { Via } from './Via.js';

const REQUEST_LINE_RE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) ([Ss][Ii][Pp]\/\d+\.\d+)$/;
const STATUS_LINE_RE = /^[Ss][Ii][Pp]\/(\d+\.\d+) (\d{3}) ?([^\r\n]*)$/;
const HEADER_RE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)$/s;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/** Parses RFC 3261 messages from datagrams or framed stream data; never throws. */
export class SipParser {
  readonly limits: SipParserLimits;

  constructor(limits: Partial<SipParserLimits> = {}) {
    this.limits = { ...DEFAULT_PARSER_LIMITS, ...limits };
  }

  /** Parses one whole message. `stream` means the body must be exactly Content-Length bytes. */
  parse(data: Buffer, stream = false): SipParseResult {
    const state: { request?: SipRequest } = {};
    try {
      return { ok: true, message: this.parseOrThrow(data, stream, state) };
    } catch (error) {
      const err = error instanceof SipParseError ? error : new SipParseError(`unparsable message: ${String(error)}`);
      const request = state.request && answerable(state.request) ? state.request : undefined;
      return request ? { ok: false, error: err, request } : { ok: false, error: err };
    }
  }

  /** Parses one message and throws SipParseError on bad input (convenient for tests and trusted text). */
  parseOrThrow(data: Buffer | string, stream = false, state: { request?: SipRequest } = {}): SipRequest | SipResponse {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
    let headEnd = buf.indexOf(CRLFCRLF, start);
    let sepLen = 4;
    if (headEnd < 0) {
      headEnd = buf.indexOf(LFLF, start);
      sepLen = 2;
    }
    const missingBlankLine = headEnd < 0;
    if (missingBlankLine) {
      headEnd = buf.length;
      sepLen = 0;
    }
    if (headEnd - start > this.limits.maxMessageBytes) throw new SipParseError('message too large', 513);
    const head = buf.subarray(start, headEnd).toString('utf8').replace(/\r?\n[ \t]+/g, ' ');
    const lines = head.split(/\r?\n/);
    const startLine = lines.shift() ?? '';
    let message: SipRequest | SipResponse;
    let deferred: SipParseError | undefined;
    const statusMatch = STATUS_LINE_RE.exec(startLine);
    if (statusMatch) {
      if (statusMatch[1] !== '2.0') throw new SipParseError('unsupported SIP version in response', 505);
      const status = Number(statusMatch[2]);
      if (status < 100 || status > 699) throw new SipParseError('status code out of range');
      message = new SipResponse(status, statusMatch[3] ?? '');
    } else {
      const m = REQUEST_LINE_RE.exec(startLine);
      if (!m) throw new SipParseError('malformed start line');
      const [, method, uriText, version] = m as unknown as [string, string, string, string];
      let uri: SipUri;
      try {
        uri = SipUri.parse(uriText);
      } catch (e) {
        uri = new SipUri({ host: 'invalid' });
        deferred = e instanceof SipParseError ? e : new SipParseError('bad Request-URI');
      }
      message = new SipRequest(method, uri);
      state.request = message;
      if (version.toUpperCase() !== 'SIP/2.0') deferred ??= new SipParseError('Version Not Supported', 505);
    }
    if (lines.length > this.limits.maxHeaders) {
      deferred ??= new SipParseError('too many header fields', 513);
      lines.length = this.limits.maxHeaders;
    }
    for (const line of lines) {
      if (line.length > this.limits.maxHeaderLineBytes) {
        deferred ??= new SipParseError('header field too long', 513);
        continue;
      }
      const hm = HEADER_RE.exec(line);
      if (!hm) {
        deferred ??= new SipParseError('malformed header line');
        continue;
      }
      message.headers.push({ name: canonicalHeaderName(hm[1] as string), value: (hm[2] as string).trim() });
    }
    if (deferred) throw deferred;
    if (missingBlankLine) throw new SipParseError('missing empty line after headers');
    validate(message);

    const bodyStart = headEnd + sepLen;
    const available = buf.length - bodyStart;
    const lengths = message.getAll('Content-Length');
    if (new Set(lengths.map((l) => l.trim())).size > 1) throw new SipParseError('conflicting Content-Length');
    const clText = lengths[0];
    if (clText !== undefined) {
      if (!/^\d{1,10}$/.test(clText.trim())) throw new SipParseError('malformed Content-Length');
      const cl = Number(clText);
      if (cl > available) throw new SipParseError('Content-Length larger than message body');
      if (stream && cl < available) throw new SipParseError('Content-Length smaller than framed body');
      message.body = Buffer.from(buf.subarray(bodyStart, bodyStart + cl));
    } else {
      if (stream) throw new SipParseError('Content-Length required on stream transports');
      message.body = Buffer.from(buf.subarray(bodyStart));
    }
    if (message.body.length + headEnd > this.limits.maxMessageBytes) throw new SipParseError('message too large', 513);
    return message;
  }
}

function validate(message: SipRequest | SipResponse): void {
  const vias = message.vias;
  if (vias.length === 0) throw new SipParseError('missing Via');
  for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
    if (!message.has(name)) throw new SipParseError(`missing ${name}`);
    if (message.getAll(name).length > 1) throw new SipParseError(`repeated ${name}`);
  }
  if (message.callId.trim() === '') throw new SipParseError('empty Call-ID');
  NameAddr.parse(message.get('From') as string);
  NameAddr.parse(message.get('To') as string);
  const cseq = message.cseq;
  if (message instanceof SipRequest) {
    if (cseq.method !== message.method) throw new SipParseError('CSeq method does not match request method');
    const mf = message.get('Max-Forwards');
    if (mf !== undefined && (!/^\d{1,3}$/.test(mf) || Number(mf) > 255)) throw new SipParseError('malformed Max-Forwards');
    const expires = message.get('Expires');
    if (expires !== undefined && (!/^\d{1,10}$/.test(expires) || Number(expires) > 0xffffffff)) {
      throw new SipParseError('malformed Expires');
    }
    for (const c of message.getAll('Contact')) if (c !== '*') NameAddr.parse(c);
  }
}

/** Enough is known about a broken request to address an error response to its sender. */
function answerable(req: SipRequest): boolean {
  if (req.method === 'ACK') return false;
  try {
    Via.parse(req.getAll('Via')[0] ?? '');
    return ['From', 'To', 'Call-ID', 'CSeq'].every((h) => req.has(h));
  } catch {
    return false;
  }
}
