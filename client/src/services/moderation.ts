import type {
  ErrorCode,
  JoinReply,
  MeetingKeys,
  ModeratedSource,
  RequestPayload,
  RoomCloseReason,
  RoomSettings,
} from '../../../shared/index.ts';
import { REQUEST_TIMEOUT_MS, RequestError, type SignalingSocket, request, withConnection } from './signaling.ts';

/** Asks the server for a new meeting and its host link's key (`secret`: the operator's creation secret). */
export async function createMeeting(secret?: string): Promise<MeetingKeys> {
  const keys = await withConnection((socket) => request(socket, 'createMeeting', secret ? { secret } : {}));
  rememberMeetingKeys(keys);
  return keys;
}

const KEYS_PREFIX = 'roundtable:meeting-keys:';

/** The server keeps only a hash of the host key and hands it back until it restarts; the browser keeps a copy. */
function rememberMeetingKeys(keys: MeetingKeys): void {
  try {
    localStorage.setItem(KEYS_PREFIX + keys.roomId, JSON.stringify(keys));
  } catch (error) {
    console.warn('cannot keep the host link in this browser', error);
  }
}

/** The keys the server sent with the join, or else the copy this browser kept when it created the meeting. */
export function meetingKeysFor(roomId: string, fromServer: MeetingKeys | undefined): MeetingKeys | undefined {
  if (fromServer) {
    rememberMeetingKeys(fromServer);
    return fromServer;
  }
  const saved = localStorage.getItem(KEYS_PREFIX + roomId);
  if (!saved) return undefined;
  try {
    const keys = JSON.parse(saved) as MeetingKeys;
    return keys.roomId === roomId && typeof keys.hostKey === 'string' ? keys : undefined;
  } catch (error) {
    console.warn('ignoring an unreadable saved host link', error);
    return undefined;
  }
}

export function inviteLink(roomId: string): string {
  return `${window.location.origin}/room/${encodeURIComponent(roomId)}`;
}

/** A host may wait in the lobby for up to ten minutes on the server; the client waits a little longer. */
const LOBBY_WAIT_MS = 10 * 60_000 + 30_000;

/**
 * Sends `join`. It normally answers within the usual timeout, but with the lobby on the server first
 * sends `lobbyWaiting` and answers only when a host admits (the join reply) or denies (LOBBY_DENIED).
 */
export function requestJoin(socket: SignalingSocket, payload: RequestPayload<'join'>): Promise<JoinReply> {
  return new Promise((resolve, reject) => {
    let timer = setTimeout(() => finish(new RequestError('TIMEOUT', 'no reply to join')), REQUEST_TIMEOUT_MS);
    const onWaiting = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new RequestError('TIMEOUT', 'nobody let you in; try again later')), LOBBY_WAIT_MS);
    };
    const finish = (error: Error | undefined, reply?: JoinReply) => {
      clearTimeout(timer);
      socket.off('lobbyWaiting', onWaiting);
      if (error) reject(error);
      else resolve(reply!);
    };
    socket.on('lobbyWaiting', onWaiting);
    request(socket, 'join', payload, { timeoutMs: LOBBY_WAIT_MS }).then(
      (reply) => finish(undefined, reply),
      (error: unknown) => finish(error as Error),
    );
  });
}

/** What a host or co-host can do, as requests; the server checks every one against the sender's role. */
export class HostControls {
  constructor(private readonly socket: SignalingSocket) {}

  mute(peerId: string) {
    return request(this.socket, 'muteParticipant', { peerId });
  }

  askToUnmute(peerId: string) {
    return request(this.socket, 'askToUnmute', { peerId });
  }

  stopVideo(peerId: string, source: 'camera' | 'screen') {
    return request(this.socket, 'stopParticipantVideo', { peerId, source });
  }

  muteEveryone() {
    return request(this.socket, 'muteEveryone', {});
  }

  remove(peerId: string) {
    return request(this.socket, 'removeParticipant', { peerId });
  }

  setRoomSettings(settings: Partial<RoomSettings>) {
    return request(this.socket, 'setRoomSettings', settings);
  }

  setRole(peerId: string, role: 'cohost' | 'participant') {
    return request(this.socket, 'setParticipantRole', { peerId, role });
  }

  transferHost(peerId: string) {
    return request(this.socket, 'transferHost', { peerId });
  }

  answerLobby(entryIds: string[] | 'all', admit: boolean) {
    return request(this.socket, 'answerLobby', { entryIds, admit });
  }

  endMeeting() {
    return request(this.socket, 'endMeeting', {});
  }
}

/** Why this person is no longer in the room, in words. */
export function roomClosedMessage(reason: RoomCloseReason, byName?: string): string {
  const by = byName ? ` (${byName})` : '';
  switch (reason) {
    case 'removed':
      return `You were removed from this meeting${by}.`;
    case 'ended':
      return `The host ended the meeting${by}.`;
    case 'shutdown':
      return 'The server is restarting. Rejoin in a moment.';
    case 'worker-died':
      return 'The meeting ended unexpectedly on the server.';
    case 'moved':
      return 'The meeting moved to another server. Rejoin to continue.';
  }
}

/** Refusals a person can act on, in words; other codes keep the server's message. */
const JOIN_REFUSALS: Partial<Record<ErrorCode, string>> = {
  ROOM_LOCKED: 'This meeting is locked: a host has closed it to new people.',
  LOBBY_DENIED: 'A host did not let you into this meeting.',
  LOBBY_FULL: 'Too many people are waiting to enter this meeting. Try again later.',
  REMOVED: 'You were removed from this meeting and cannot rejoin it.',
  ROOM_NOT_FOUND: 'There is no such meeting on this server. Check the link.',
  TOKEN_REQUIRED: 'This server lets people in only through its own application. Open the meeting from there.',
  INVALID_TOKEN: 'Your meeting link is not valid. Ask for a new one.',
  TOKEN_EXPIRED: 'Your meeting link has expired. Ask for a new one.',
  TOKEN_WRONG_ROOM: 'Your meeting link is for another meeting.',
  CREATION_SECRET_REQUIRED: 'Creating meetings on this server needs its creation secret.',
  SHUTTING_DOWN: 'The server is restarting. Try again in a moment.',
};

export function joinRefusalMessage(error: RequestError): string {
  // The lobby also closes when the meeting ends under the people waiting in it.
  if (error.code === 'LOBBY_DENIED' && /ended/.test(error.message)) return 'The meeting ended before a host let you in.';
  return JOIN_REFUSALS[error.code as ErrorCode] ?? `Could not join: ${error.message}`;
}

export function mutedByHostMessage(source: ModeratedSource, byName: string): string {
  switch (source) {
    case 'microphone':
      return `The host muted you (${byName}). You can unmute yourself when you want to speak.`;
    case 'camera':
      return `The host turned off your camera (${byName}).`;
    case 'screen':
      return `The host stopped your screen share (${byName}).`;
  }
}

/** A short two-tone knock when someone new waits in the lobby; silent where WebAudio is unavailable. */
export function playKnock(): void {
  try {
    const context = new AudioContext();
    const gain = context.createGain();
    gain.connect(context.destination);
    gain.gain.setValueAtTime(0.0001, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.15, context.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, context.currentTime + 0.45);
    for (const [frequency, start] of [[660, 0], [880, 0.15]] as const) {
      const tone = context.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(context.currentTime + start);
      tone.stop(context.currentTime + start + 0.2);
    }
    setTimeout(() => void context.close(), 800);
  } catch (error) {
    console.warn('cannot play the lobby sound', error);
  }
}
