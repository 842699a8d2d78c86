import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import {
  type JoinReply,
  type LobbyEntry,
  type MeetingKeys,
  type RoomCloseReason,
  type RoomSettings,
  isModerator,
} from '../../../shared/index.ts';
import type { MediaSession } from '../services/MediaSession.ts';
import { HostControls, meetingKeysFor, mutedByHostMessage, playKnock } from '../services/moderation.ts';
import { useRoomStore } from './room.ts';

/**
 * Host control as this person sees it: the room's lock and lobby, who waits in the lobby (moderators),
 * what a host did to me, and the host actions themselves. The room store stays about media and people;
 * this store subscribes to the moderation events on the session's socket.
 */
export const useModerationStore = defineStore('moderation', () => {
  const room = useRoomStore();
  const settings = ref<RoomSettings>({ locked: false, lobby: false, fileSharing: 'everyone' });
  /** Moderators only: people waiting in the lobby, oldest first. */
  const lobby = ref<LobbyEntry[]>([]);
  /** This person's join waits for a host in the lobby. */
  const waitingInLobby = ref(false);
  /** A host's name while their request to unmute waits for my answer. */
  const unmuteRequestFrom = ref<string>();
  /** What a host did to me, or what went wrong with a host action. */
  const notice = ref<string>();
  /** Set when a host removed me or ended the meeting: the page must not rejoin by itself. */
  const closed = ref<{ reason: RoomCloseReason; byName?: string }>();
  const meetingKeys = shallowRef<MeetingKeys>();
  let controls: HostControls | undefined;
  /**
   * A host-muted person's microphone is created paused on the server, which says so before the
   * produce request returns: the local producer is paused once it exists.
   */
  let micMutePending = false;

  const amModerator = computed(() => room.kind === 'meeting' && isModerator(room.role));
  const amHost = computed(() => room.kind === 'meeting' && room.role === 'host');
  // A demoted co-host no longer hears about the lobby.
  watch(amModerator, (now) => {
    if (!now) lobby.value = [];
  });
  watch(() => room.micOn, (on) => {
    if (!on || !micMutePending) return;
    micMutePending = false;
    room.session?.publisher.setPaused('microphone', true).catch((error: unknown) => console.warn('could not follow the host mute', error));
  });

  /** Called when the room store creates a session, before it joins. */
  function attach(session: MediaSession): void {
    controls = new HostControls(session.socket);
    settings.value = { locked: false, lobby: false, fileSharing: 'everyone' };
    lobby.value = [];
    waitingInLobby.value = false;
    unmuteRequestFrom.value = undefined;
    notice.value = undefined;
    closed.value = undefined;
    micMutePending = false;
    const on = session.socket.on.bind(session.socket);
    on('lobbyWaiting', () => (waitingInLobby.value = true));
    on('roomSettings', ({ locked, lobby: lobbyOn, fileSharing }) => (settings.value = { locked, lobby: lobbyOn, fileSharing }));
    on('lobbyChanged', ({ waiting }) => setLobby(waiting));
    on('unmuteRequested', ({ byName }) => (unmuteRequestFrom.value = byName));
    on('mutedByHost', ({ source, byName }) => {
      notice.value = mutedByHostMessage(source, byName);
      if (source === 'microphone') unmuteRequestFrom.value = undefined;
      // The server already stopped forwarding; keep the local sender in step so my own UI shows it.
      const publisher = session.publisher;
      if (source === 'microphone' && !publisher.producers.has('microphone')) micMutePending = true;
      const follow =
        source === 'microphone' ? publisher.setPaused('microphone', true)
        : source === 'camera' ? publisher.setCameraEnabled(false)
        : publisher.stopScreenShare();
      follow.catch((error: unknown) => console.warn('could not follow the host', source, error));
    });
    on('roomClosed', ({ reason, byName }) => {
      if (reason === 'removed' || reason === 'ended') closed.value = byName ? { reason, byName } : { reason };
    });
  }

  /** The join reply (first join and every rejoin). */
  function applyRoomState(reply: JoinReply): void {
    waitingInLobby.value = false;
    settings.value = { ...reply.roomSettings };
    const moderator = reply.kind === 'meeting' && isModerator(reply.role);
    lobby.value = moderator ? (reply.lobby ?? []) : [];
    meetingKeys.value = moderator ? meetingKeysFor(reply.roomId, reply.meetingKeys) : undefined;
  }

  function setLobby(waiting: LobbyEntry[]): void {
    const known = new Set(lobby.value.map((entry) => entry.id));
    lobby.value = waiting;
    if (waiting.some((entry) => !known.has(entry.id))) playKnock();
  }

  /** Runs a host action; a refusal becomes a visible notice instead of an unhandled rejection. */
  async function act(what: string, action: (c: HostControls) => Promise<unknown>): Promise<void> {
    if (!controls) return;
    try {
      await action(controls);
    } catch (cause) {
      notice.value = `Could not ${what}: ${(cause as Error).message}`;
    }
  }

  const nameOf = (peerId: string) => room.participants.find((p) => p.id === peerId)?.displayName ?? 'them';

  async function answerUnmute(accept: boolean): Promise<void> {
    unmuteRequestFrom.value = undefined;
    if (accept && !room.micOn) await room.toggleMic();
  }

  return {
    settings, lobby, waitingInLobby, unmuteRequestFrom, notice, closed, meetingKeys, amModerator, amHost,
    attach, applyRoomState, answerUnmute,
    mute: (peerId: string) => act(`mute ${nameOf(peerId)}`, (c) => c.mute(peerId)),
    askToUnmute: (peerId: string) => act(`ask ${nameOf(peerId)} to unmute`, (c) => c.askToUnmute(peerId)),
    stopVideo: (peerId: string, source: 'camera' | 'screen') => act(`stop ${nameOf(peerId)}'s ${source}`, (c) => c.stopVideo(peerId, source)),
    muteEveryone: () => act('mute everyone', (c) => c.muteEveryone()),
    remove: (peerId: string) => act(`remove ${nameOf(peerId)}`, (c) => c.remove(peerId)),
    setRoomSettings: (change: Partial<RoomSettings>) =>
      act('change the meeting settings', async (c) => (settings.value = await c.setRoomSettings(change))),
    setRole: (peerId: string, role: 'cohost' | 'participant') => act(`change ${nameOf(peerId)}'s role`, (c) => c.setRole(peerId, role)),
    transferHost: (peerId: string) => act(`make ${nameOf(peerId)} the host`, (c) => c.transferHost(peerId)),
    answerLobby: (entryIds: string[] | 'all', admit: boolean) =>
      act(admit ? 'let them in' : 'deny them', (c) => c.answerLobby(entryIds, admit)),
    endMeeting: () => act('end the meeting', (c) => c.endMeeting()),
  };
});
