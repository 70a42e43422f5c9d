import { SignallingError } from '../sdk/SignallingError.js';

/**
 * What the page tells a person, in words, when something fails: from the error's status and the server's
 * own message, never a status code or a pattern.
 */

/** Why joining failed: the link, the room, the server, or the network. */
export function joinFailureText(error: unknown): string {
  if (!(error instanceof SignallingError)) {
    // fetch() rejects with a TypeError when nothing answers at all.
    if (error instanceof TypeError) return 'The server cannot be reached. Check your connection, then try again.';
    return 'Could not join the room. Try again in a moment.';
  }
  const said = error.serverMessage.toLowerCase();
  if (error.method === 'guestToken') {
    if (error.code === 403) return 'This server does not let guests join. Ask the organiser for an invite link.';
    if (error.code === 429) return 'Too many attempts from your network. Wait a minute, then try again.';
    if (error.code === 400) return 'That room name cannot be used. It needs at least one letter or digit.';
  }
  if (error.code === 401) {
    if (said.includes('expired')) return 'This invite link has expired. Ask for a new one.';
    return 'This invite link is not valid. Check that it was copied whole, or ask for a new one.';
  }
  if (error.code === 403) return 'This room does not exist or has been closed.';
  if (said.includes('full') || said.includes('room limit')) return 'The room is full. Try again later.';
  if (said.includes('restarting')) return 'The room is restarting. Try again in a moment.';
  if (error.code === 408 || error.code === 503) return 'The server cannot be reached. Check your connection, then try again.';
  return `Could not join the room: ${error.serverMessage}.`;
}

/** Why the page is no longer in the room, when it will not rejoin by itself. */
export function removalText(reason: string | null): string {
  switch (reason) {
    case 'kicked': return 'You were removed from the room by its host.';
    case 'room-closed': return 'The room was closed.';
    case 'duplicate-identity': return 'You joined this room from another tab or device, so this one left it.';
    default: return 'You are no longer in the room.';
  }
}

/** Why a microphone or camera is not used, and what to do about it. */
export function deviceFailureText(failed: Array<{ device: 'microphone' | 'camera'; error: unknown }>): string {
  const devices = failed.map(({ device }) => device).join(' and ');
  const denied = failed.some(({ error }) => (error as { name?: string }).name === 'NotAllowedError');
  const missing = failed.every(({ error }) => (error as { name?: string }).name === 'NotFoundError');
  if (denied) {
    return `The browser did not allow your ${devices}. Allow it in the site settings (the icon left of the address), then reload the page. Others can still see you joined.`;
  }
  if (missing) return `No ${devices} was found. Others can still see you joined.`;
  return `Your ${devices} could not be started (another application may be using it). Others can still see you joined.`;
}
