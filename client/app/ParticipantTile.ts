import type { MediaSource } from '../sdk/ConfluxClientTypes.js';

// Inline SVG rather than emoji: not every system (kiosks, minimal Linux) ships an emoji font.
const PHONE_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M6 3h3l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v3a3 3 0 0 1-3 3A15 15 0 0 1 3 6a3 3 0 0 1 3-3z"/></svg>';
const MIC_OFF_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>';

export interface ParticipantTileOptions {
  participantId: string;
  displayName: string;
  /** `sip` participants are phone callers: no video, shown with a phone badge. */
  kind: 'webrtc' | 'sip';
  /** Our own tile: the video is a mirrored self-view and our audio is never played back. */
  local: boolean;
}

/** One participant's square in the grid: video, audio playback, name label, mute and phone badges. */
export class ParticipantTile {
  readonly element: HTMLElement;
  readonly #video: HTMLVideoElement;
  readonly #audio: HTMLAudioElement;
  readonly #name: HTMLElement;
  readonly #micOff: HTMLElement;
  readonly #quality: HTMLElement;
  readonly #hand: HTMLElement;

  constructor({ participantId, displayName, kind, local }: ParticipantTileOptions) {
    this.element = el('article', 'tile no-video');
    this.element.dataset.participantId = participantId;
    this.element.dataset.kind = kind;
    if (local) this.element.classList.add('local');

    this.#video = el('video');
    this.#video.autoplay = true;
    this.#video.playsInline = true;
    // Audio plays through the <audio> element; the video element stays muted so autoplay is allowed.
    this.#video.muted = true;
    this.#audio = el('audio');
    this.#audio.autoplay = true;

    const avatar = el('div', 'avatar');
    if (kind === 'sip') avatar.innerHTML = PHONE_ICON;
    else avatar.textContent = initials(displayName);

    const label = el('div', 'label');
    if (kind === 'sip') {
      const phone = el('span', 'phone');
      phone.innerHTML = `${PHONE_ICON}<span>phone</span>`;
      phone.title = 'Joined by phone';
      label.append(phone);
    }
    this.#name = el('span', 'name');
    this.#name.textContent = local ? (displayName ? `${displayName} (you)` : 'You') : displayName;
    this.#micOff = el('span', 'mic-off');
    this.#micOff.innerHTML = MIC_OFF_ICON;
    this.#micOff.title = 'Microphone muted';
    this.#micOff.hidden = true;
    this.#quality = el('span', 'quality');
    this.#quality.hidden = true;
    this.#hand = el('span', 'hand');
    this.#hand.textContent = '✋';
    this.#hand.title = 'Hand raised';
    this.#hand.hidden = true;
    label.append(this.#hand, this.#name, this.#micOff, this.#quality);

    this.element.append(this.#video, this.#audio, avatar, label);
  }

  /** Shows a video track, or the avatar when null. */
  setVideo(track: MediaStreamTrack | null): void {
    this.#video.srcObject = track ? new MediaStream([track]) : null;
    this.element.classList.toggle('no-video', track === null);
    if (track) playSoon(this.#video);
  }

  /** Plays an audio track, or stops playback when null. */
  setAudio(track: MediaStreamTrack | null): void {
    this.#audio.srcObject = track ? new MediaStream([track]) : null;
    if (track) playSoon(this.#audio);
  }

  /** Reflects a muted or unmuted source (mic badge, hidden video). */
  setMuted(source: MediaSource, muted: boolean): void {
    if (source === 'mic' || source === 'phone') this.#micOff.hidden = !muted;
    if (source === 'camera') this.element.classList.toggle('no-video', muted || !this.#video.srcObject);
  }

  /** Shows or hides the raised hand. */
  setHandRaised(raised: boolean): void {
    this.#hand.hidden = !raised;
    this.element.classList.toggle('hand-raised', raised);
  }

  /** Shows how well this participant reaches us: three bars, one lit when poor, all three when good. */
  setQuality(quality: 'good' | 'fair' | 'poor'): void {
    this.#quality.hidden = false;
    this.#quality.dataset.quality = quality;
    this.#quality.title = `Connection: ${quality}`;
    this.#quality.textContent = quality === 'good' ? '▮▮▮' : quality === 'fair' ? '▮▮▯' : '▮▯▯';
  }

  setDisplayName(displayName: string): void {
    this.#name.textContent = displayName;
  }

  setSpeaking(speaking: boolean): void {
    this.element.classList.toggle('speaking', speaking);
  }

  /** Detaches media and removes the tile from the page. */
  remove(): void {
    this.#video.srcObject = null;
    this.#audio.srcObject = null;
    this.element.remove();
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  return element;
}

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((word) => word[0]?.toUpperCase()).join('') || '?';
}

// Browsers refuse to autoplay sound before the user interacted with the page (e.g. opening an invite
// link with a token): retry on the first click anywhere.
function playSoon(media: HTMLMediaElement): void {
  media.play().catch(() => {
    document.addEventListener('click', () => void media.play().catch(() => undefined), { once: true });
  });
}
