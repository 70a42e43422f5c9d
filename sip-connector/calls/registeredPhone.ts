import { ConfluxError, NotFoundError, UnsupportedError } from '../../server/errors.js';
import type { Registrar } from '../sip/Registrar.js';
import type { Binding } from '../sip/RegistrarTypes.js';
import type { SipUri } from '../sip/SipUri.js';

/**
 * A user of this registrar's domain on its newest plain-RTP binding (a phone, not a WebRTC client), where
 * `purpose` (a dial-out, a transfer) can reach it. Refused: unknown (404), not registered (409, SIP 480),
 * registered from WebRTC clients only (SIP 488).
 */
export function registeredPhone(registrar: Registrar, uri: SipUri, purpose: string): Binding {
  const user = uri.user;
  if (!user || !/^sips?$/.test(uri.scheme) || !registrar.isLocalDomain(uri.host) || !registrar.hasUser(user)) {
    throw new NotFoundError(`no user ${user ?? '(none)'} here`);
  }
  const bindings = registrar.lookup(user).sort((a, b) => b.expiresAt - a.expiresAt);
  if (bindings.length === 0) throw new ConfluxError(`${user} is not registered`, 409, 480);
  const phone = bindings.find((b) => b.source.transport !== 'ws' && b.source.transport !== 'wss');
  if (!phone) throw new UnsupportedError(`${user} is registered from a WebRTC client only: ${purpose} reaches phones`);
  return phone;
}
