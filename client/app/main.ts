import { ConfluxClient } from '../sdk/ConfluxClient.js';
import type { ChatMessage, LocalSource } from '../sdk/ConfluxClientTypes.js';
import type { AppHook, AppStatus } from './AppHook.js';
import { roomIdOf } from '../sdk/roomId.js';
import { bestGrid } from './gridLayout.js';
import { deviceFailureText, joinFailureText, removalText } from './messages.js';
import { ParticipantTile } from './ParticipantTile.js';

const hook: AppHook = { client: null, status: 'idle', error: null, reconnects: 0 };
(window as unknown as { conflux: AppHook }).conflux = hook;

const ui = {
  joinView: byId('join-view'),
  joinForm: byId('join-form') as HTMLFormElement,
  roomInput: byId('room-input') as HTMLInputElement,
  nameInput: byId('name-input') as HTMLInputElement,
  joinButton: byId('join-button') as HTMLButtonElement,
  roomView: byId('room-view'),
  roomTitle: byId('room-title'),
  inviteLink: byId('invite-link') as HTMLAnchorElement,
  copyInvite: byId('copy-invite') as HTMLButtonElement,
  micButton: byId('mic-button') as HTMLButtonElement,
  cameraButton: byId('camera-button') as HTMLButtonElement,
  leaveButton: byId('leave-button') as HTMLButtonElement,
  handButton: byId('hand-button') as HTMLButtonElement,
  peopleButton: byId('people-button') as HTMLButtonElement,
  people: byId('people'),
  peopleList: byId('people-list'),
  grid: byId('grid'),
  chatLog: byId('chat-log'),
  chatForm: byId('chat-form') as HTMLFormElement,
  chatInput: byId('chat-input') as HTMLInputElement,
  message: byId('message'),
};

const tiles = new Map<string, ParticipantTile>();
let localTile: ParticipantTile | null = null;
/** Our own name in the room, as our tile shows it. */
let selfName = '';

/** What the page joined with, to rejoin by itself when the room is lost. */
let session: { token: string; displayName?: string } | null = null;
let reconnecting = false;
/** How long the page keeps trying to rejoin, and the longest wait between two tries. */
const RECONNECT_WINDOW_MS = 60_000;
const RECONNECT_MAX_DELAY_MS = 8000;
/** Removals after which the room is still there (or back soon): the page rejoins instead of showing the form. */
const REJOINABLE = new Set(['media-restart', 'server-shutdown']);

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page is missing #${id}`);
  return element;
}

function setStatus(status: AppStatus): void {
  hook.status = status;
  document.body.dataset.status = status;
}

let messageTimer: ReturnType<typeof setTimeout> | undefined;
/** How long a passing notice (not an error) stays up. */
const NOTICE_MS = 4000;

/** Shows `text` under the header; a `notice` goes away by itself, an error or state stays until the next message. */
function showMessage(text: string | null, kind: 'info' | 'error' | 'notice' = 'info'): void {
  clearTimeout(messageTimer);
  ui.message.textContent = text ?? '';
  ui.message.dataset.kind = kind === 'notice' ? 'info' : kind;
  ui.message.hidden = !text;
  if (kind === 'error') hook.error = text;
  if (kind === 'notice' && text) messageTimer = setTimeout(() => showMessage(null), NOTICE_MS);
}

const TITLE = document.title;

function inviteUrl(room: string): string {
  return `${window.location.origin}/?room=${encodeURIComponent(room)}`;
}

/** Joins with a token, or a guest token for room + name, then publishes the microphone and camera. */
async function joinRoom(request: { token?: string; room?: string; name?: string }): Promise<void> {
  showMessage(null);
  hook.error = null;
  setStatus('joining');
  ui.joinButton.disabled = true;
  const client = new ConfluxClient();
  hook.client = client;
  wireClient(client);
  try {
    const token = request.token ?? (await ConfluxClient.fetchGuestToken(request.room ?? '', request.name ?? ''));
    session = request.name ? { token, displayName: request.name } : { token };
    const joined = await client.join(session);
    enterRoom(client, joined.roomId, request.name ?? joined.identity);
    await publishDevices(client);
    if (client.state === 'joined') setStatus('joined');
  } catch (error) {
    if (client.state === 'removed') return;
    console.error('join failed', error);
    showJoinView();
    showMessage(joinFailureText(error), 'error');
    setStatus('error');
  } finally {
    ui.joinButton.disabled = false;
  }
}

// A missing camera must not cost the user their audio (and vice versa): publish each on its own.
async function publishDevices(client: ConfluxClient): Promise<void> {
  const [mic, camera] = await Promise.allSettled([client.publishMic(), client.publishCamera()]);
  ui.micButton.disabled = mic.status !== 'fulfilled';
  ui.cameraButton.disabled = camera.status !== 'fulfilled';
  const failed = ([['microphone', mic], ['camera', camera]] as const)
    .flatMap(([device, result]) => (result.status === 'rejected' ? [{ device, error: result.reason as unknown }] : []));
  if (failed.length > 0) {
    console.warn('publishing failed', failed);
    showMessage(deviceFailureText(failed));
  }
}

/**
 * Rejoins the room with the same token after losing it (the connection dropped, the server restarted, or the
 * room's media restarted on another worker), waiting longer between tries, for up to a minute. A refusal that
 * will not change (the token expired, the room is gone) ends it at once.
 */
async function reconnect(): Promise<void> {
  const joinedWith = session;
  if (reconnecting || !joinedWith) return;
  reconnecting = true;
  setStatus('reconnecting');
  showMessage('Connection to the room lost: reconnecting…');
  clearTiles();
  const deadline = Date.now() + RECONNECT_WINDOW_MS;
  let reason = 'The server did not answer.';
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, RECONNECT_MAX_DELAY_MS)));
    const client = new ConfluxClient();
    hook.client = client;
    wireClient(client);
    try {
      const joined = await client.join(joinedWith);
      reconnecting = false;
      hook.reconnects += 1;
      enterRoom(client, joined.roomId, joinedWith.displayName ?? joined.identity);
      showMessage(null);
      await publishDevices(client);
      if (client.state === 'joined') setStatus('joined');
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      reason = joinFailureText(error);
      if (code === 401 || code === 403 || code === 404) break;
    }
  }
  reconnecting = false;
  showJoinView();
  showMessage(`Could not get back into the room. ${reason}`, 'error');
  setStatus('disconnected');
}

function enterRoom(client: ConfluxClient, roomId: string, displayName: string): void {
  ui.joinView.hidden = true;
  ui.roomView.hidden = false;
  ui.roomTitle.textContent = roomId;
  document.title = `${roomId} · ${TITLE}`;
  ui.inviteLink.href = inviteUrl(roomId);
  ui.inviteLink.textContent = inviteUrl(roomId);
  ui.roomInput.value = roomId;
  ui.handButton.setAttribute('aria-pressed', 'false');
  ui.handButton.textContent = 'Raise hand';
  ui.chatLog.replaceChildren();
  for (const message of client.chat) showChat(message, client.participantId);
  const selfId = client.participantId ?? 'local';
  selfName = displayName;
  localTile = new ParticipantTile({ participantId: selfId, displayName, kind: 'webrtc', local: true });
  tiles.set(selfId, localTile);
  ui.grid.prepend(localTile.element);
  renderPeople(client);
}

/** Adds a chat message to the log, as text (names and messages are never markup). */
function showChat(message: ChatMessage, selfId: string | null): void {
  const item = document.createElement('li');
  item.dataset.messageId = String(message.id);
  const from = document.createElement('span');
  from.className = 'chat-from';
  from.textContent = message.participantId === selfId ? `${message.displayName} (you)` : message.displayName;
  const text = document.createElement('span');
  text.className = 'chat-text';
  text.textContent = message.text;
  item.append(from, text);
  ui.chatLog.append(item);
  item.scrollIntoView({ block: 'nearest' });
}

/** The number a phone called from: the user part of its SIP From, when it has one. */
function phoneNumberOf(attributes: Record<string, string>): string | null {
  const from = attributes['sip.from'];
  return from ? /^sips?:([^@;]+)@/.exec(from)?.[1] ?? null : null;
}

/** Lists everyone in the room, us first: name, a phone's number, a muted microphone, a raised hand. */
function renderPeople(client: ConfluxClient): void {
  if (hook.client !== client) return;
  const rows: Array<{ id: string; name: string; number: string | null; muted: boolean; hand: boolean; audio: boolean }> = [];
  const selfId = client.participantId ?? 'local';
  rows.push({
    id: selfId, name: selfName ? `${selfName} (you)` : 'You', number: null, muted: client.isMuted('mic'), hand: client.handRaised, audio: false,
  });
  for (const participant of client.participants.values()) {
    const audio = [...participant.producers.values()].filter((producer) => producer.kind === 'audio');
    rows.push({
      id: participant.id, name: participant.displayName, number: participant.kind === 'sip' ? phoneNumberOf(participant.attributes) : null,
      muted: audio.length > 0 && audio.every((producer) => producer.paused), hand: participant.handRaised, audio: audio.length > 0,
    });
  }
  ui.peopleList.replaceChildren(...rows.map((row) => {
    const item = document.createElement('li');
    item.dataset.participantId = row.id;
    const name = document.createElement('span');
    name.className = 'person-name';
    name.textContent = row.name;
    item.append(name);
    if (row.number) {
      const number = document.createElement('span');
      number.className = 'person-number';
      number.textContent = row.number;
      item.append(number);
    }
    if (row.muted) item.append(Object.assign(document.createElement('span'), { className: 'person-muted', textContent: '🔇', title: 'Microphone muted' }));
    if (row.hand) item.append(Object.assign(document.createElement('span'), { className: 'person-hand', textContent: '✋', title: 'Hand raised' }));
    // A host mutes and removes the others from here.
    if (client.roomAdmin && row.id !== selfId) {
      if (row.audio && !row.muted) item.append(hostAction('Mute', `Mute ${row.name}`, () => client.muteParticipant(row.id, 'audio', true)));
      item.append(hostAction('Remove', `Remove ${row.name} from the room`, () => client.removeParticipant(row.id)));
    }
    return item;
  }));
  ui.peopleButton.textContent = `People (${rows.length})`;
}

/** A small button of the People list that runs a host's action, and says so when it is refused. */
function hostAction(label: string, title: string, act: () => Promise<void>): HTMLButtonElement {
  const button = Object.assign(document.createElement('button'), { type: 'button', textContent: label, title, className: 'host-action' });
  button.setAttribute('aria-label', title);
  button.addEventListener('click', () => {
    button.disabled = true;
    act().catch(() => {
      button.disabled = false;
      showMessage('That could not be done. Try again.', 'notice');
    });
  });
  return button;
}

/** Sizes the tiles to the grid's area and their number: as large as they can be, all in view. */
function layoutGrid(): void {
  const count = ui.grid.children.length;
  const gap = parseFloat(getComputedStyle(ui.grid).rowGap) || 0;
  const { columns, tileWidth } = bestGrid(count, ui.grid.clientWidth, ui.grid.clientHeight, gap);
  ui.grid.style.setProperty('--columns', String(columns));
  ui.grid.style.setProperty('--tile-width', `${tileWidth}px`);
}

function clearTiles(): void {
  for (const tile of tiles.values()) tile.remove();
  tiles.clear();
  localTile = null;
}

function showJoinView(): void {
  clearTiles();
  document.title = TITLE;
  ui.roomView.hidden = true;
  ui.joinView.hidden = false;
  ui.micButton.disabled = true;
  ui.cameraButton.disabled = true;
}

function updateMuteButton(source: LocalSource, muted: boolean): void {
  const button = source === 'mic' ? ui.micButton : ui.cameraButton;
  button.setAttribute('aria-pressed', String(muted));
  if (source === 'mic') button.textContent = muted ? 'Unmute mic' : 'Mute mic';
  else button.textContent = muted ? 'Start camera' : 'Stop camera';
}

function wireClient(client: ConfluxClient): void {
  client.on('participantJoined', (participant) => {
    const tile = new ParticipantTile({
      participantId: participant.id,
      displayName: participant.displayName,
      kind: participant.kind,
      local: false,
    });
    tiles.set(participant.id, tile);
    ui.grid.append(tile.element);
    if (participant.handRaised) tile.setHandRaised(true);
  });
  client.on('participantLeft', (participant) => {
    tiles.get(participant.id)?.remove();
    tiles.delete(participant.id);
  });
  client.on('trackAdded', ({ participantId, kind, track, producerId }) => {
    const tile = tiles.get(participantId);
    if (!tile) return;
    if (kind === 'video') tile.setVideo(track);
    else tile.setAudio(track);
    const producer = client.participants.get(participantId)?.producers.get(producerId);
    if (producer?.paused) tile.setMuted(producer.source, true);
  });
  client.on('trackRemoved', ({ participantId, kind }) => {
    const tile = tiles.get(participantId);
    if (kind === 'video') tile?.setVideo(null);
    else tile?.setAudio(null);
  });
  client.on('remoteMuteChanged', ({ participantId, source, muted }) => {
    tiles.get(participantId)?.setMuted(source, muted);
  });
  client.on('localTrack', ({ source, track }) => {
    if (source === 'camera') localTile?.setVideo(track);
    updateMuteButton(source, false);
  });
  client.on('localMuteChanged', ({ source, muted }) => {
    updateMuteButton(source, muted);
    localTile?.setMuted(source, muted);
  });
  for (const event of ['participantJoined', 'participantLeft', 'trackAdded', 'remoteMuteChanged', 'localMuteChanged', 'handChanged'] as const) {
    client.on(event, () => renderPeople(client));
  }
  client.on('handChanged', ({ participantId, raised }) => {
    if (hook.client !== client) return;
    tiles.get(participantId)?.setHandRaised(raised);
    if (participantId === client.participantId) {
      ui.handButton.setAttribute('aria-pressed', String(raised));
      ui.handButton.textContent = raised ? 'Lower hand' : 'Raise hand';
    }
  });
  client.on('connectionQuality', ({ participantId, quality }) => {
    tiles.get(participantId)?.setQuality(quality);
  });
  client.on('chatMessage', (message) => {
    if (hook.client === client) showChat(message, client.participantId);
  });
  client.on('activeSpeaker', (speakerId) => {
    for (const [participantId, tile] of tiles) tile.setSpeaking(participantId === speakerId);
  });
  client.on('warning', (error) => console.warn(error));
  client.on('stateChanged', (state) => {
    if (hook.client !== client) return;
    if (state === 'left') {
      session = null;
      forgetLinkToken();
      showJoinView();
      showMessage('You left the room.');
      setStatus('left');
    } else if ((state === 'removed' && REJOINABLE.has(client.removedReason ?? '')) || (state === 'disconnected' && session)) {
      void reconnect();
    } else if (state === 'removed') {
      forgetLinkToken();
      showJoinView();
      showMessage(removalText(client.removedReason), 'error');
      setStatus('removed');
    } else if (state === 'disconnected') {
      showJoinView();
      showMessage('The connection to the server was lost.', 'error');
      setStatus('disconnected');
    }
  });
}

async function toggleMute(source: LocalSource): Promise<void> {
  const client = hook.client;
  if (!client?.producer(source)) return;
  try {
    await client.setMuted(source, !client.isMuted(source));
  } catch (error) {
    console.warn(`cannot toggle ${source}`, error);
  }
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomIdOf(ui.roomInput.value.trim());
  const name = ui.nameInput.value.trim();
  if (!name) return;
  if (!room) {
    showMessage('A room name needs at least one letter or digit.', 'error');
    return;
  }
  window.localStorage.setItem('conflux.name', name);
  void joinRoom({ room, name });
});
ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  const client = hook.client;
  if (!text || !client) return;
  client.sendChat(text).then(() => { ui.chatInput.value = ''; }, (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    showMessage(code === 429 ? 'You are sending messages too fast. Wait a moment.' : 'Your message could not be sent.', 'notice');
  });
});
ui.micButton.addEventListener('click', () => void toggleMute('mic'));
// The shortcuts people know from other meeting pages: Ctrl+D (⌘+D) for the microphone, Ctrl+E (⌘+E) for the camera.
document.addEventListener('keydown', (event) => {
  if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey || ui.roomView.hidden) return;
  const key = event.key.toLowerCase();
  if (key !== 'd' && key !== 'e') return;
  event.preventDefault();
  const button = key === 'd' ? ui.micButton : ui.cameraButton;
  if (!button.disabled) void toggleMute(key === 'd' ? 'mic' : 'camera');
});
ui.cameraButton.addEventListener('click', () => void toggleMute('camera'));
ui.leaveButton.addEventListener('click', () => void hook.client?.leave());
ui.peopleButton.addEventListener('click', () => {
  ui.people.hidden = !ui.people.hidden;
  ui.peopleButton.setAttribute('aria-expanded', String(!ui.people.hidden));
  if (!ui.people.hidden && hook.client) renderPeople(hook.client);
});
ui.handButton.addEventListener('click', () => {
  const client = hook.client;
  client?.raiseHand(!client.handRaised).catch((error: unknown) => console.warn('cannot raise the hand', error));
});
ui.copyInvite.addEventListener('click', () => {
  navigator.clipboard.writeText(ui.inviteLink.href).then(
    () => showMessage('Invite link copied.', 'notice'),
    // Clipboard access needs a secure context; let the user copy the visible link instead.
    () => window.getSelection()?.selectAllChildren(ui.inviteLink),
  );
});
window.addEventListener('pagehide', () => void hook.client?.leave());

const params = new URLSearchParams(window.location.search);
ui.roomInput.value = params.get('room') ?? '';
ui.nameInput.value = params.get('name') ?? window.localStorage.getItem('conflux.name') ?? '';
const linkToken = params.get('token');

/** Takes a token link's token out of the address bar once it is spent, so that a reload does not join again. */
function forgetLinkToken(): void {
  if (!new URLSearchParams(window.location.search).has('token')) return;
  const url = new URL(window.location.href);
  url.searchParams.delete('token');
  window.history.replaceState(null, '', url);
}
if (linkToken) void joinRoom({ token: linkToken, name: params.get('name') ?? undefined });

// Tiles come and go and the window changes size: the grid follows both.
new MutationObserver(layoutGrid).observe(ui.grid, { childList: true });
new ResizeObserver(layoutGrid).observe(ui.grid);
