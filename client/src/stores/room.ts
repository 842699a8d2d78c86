import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ChatMessage, ClientSettings, JoinReply, MediaSource, PeerInfo, Role, RoomKind, WebinarKeys } from '../../../shared/index.ts';
import { MediaSession } from '../services/MediaSession.ts';
import type { LocalSourceState } from '../services/Publisher.ts';
import { type LocalMedia, openLocalMedia } from '../services/media-devices.ts';
import { RequestError } from '../services/signaling.ts';
import { joinRefusalMessage, roomClosedMessage } from '../services/moderation.ts';
import { RESTART_GAVE_UP, RestartRejoin } from '../services/rejoin.ts';
import { webinarKeysFor } from '../services/webinar.ts';
import { useChatStore } from './chat.ts';
import { useRecordingStore } from './recording.ts';
import { useFilesStore } from './files.ts';
import { useModerationStore } from './moderation.ts';

export interface SourceState {
  producerId?: string;
  paused: boolean;
}

export interface Participant {
  id: string;
  displayName: string;
  isLocal: boolean;
  role: Role;
  /** Keys for `session.track(key)`; absent while nothing plays for that source. */
  tracks: Partial<Record<MediaSource, string>>;
  /** What the participant publishes and whether it is paused (muted, camera off). */
  media: Partial<Record<MediaSource, SourceState>>;
  handRaisedAt: number | null;
  /** mediasoup scores (0-10) of the sender's uplink and of our path from the server, per source. */
  scores: Partial<Record<MediaSource, { score: number; producerScore: number }>>;
}

export type RoomStatus = 'idle' | 'joining' | 'joined' | 'reconnecting' | 'left' | 'failed' | 'replaced';

function participantFrom(peer: PeerInfo, previous?: Participant): Participant {
  const media: Participant['media'] = {};
  for (const producer of peer.producers) media[producer.source] = { producerId: producer.id, paused: producer.paused };
  return {
    id: peer.id,
    displayName: peer.displayName,
    isLocal: false,
    role: peer.role,
    tracks: previous?.tracks ?? {},
    media,
    handRaisedAt: peer.handRaisedAt,
    scores: previous?.scores ?? {},
  };
}

/** The meeting as the UI sees it: plain, serialisable data. Media objects stay in MediaSession. */
export const useRoomStore = defineStore('room', () => {
  const chat = useChatStore();
  const status = ref<RoomStatus>('idle');
  const error = ref<string>();
  const notice = ref<string>();
  const roomId = ref<string>();
  const localPeerId = ref<string>();
  const participants = ref<Participant[]>([]);
  const activeSpeakerId = ref<string | null>(null);
  /** The last speaker other than me: my own screen keeps showing them while I talk. */
  const stageSpeakerId = ref<string | null>(null);
  const speaking = ref<string[]>([]);
  /** The browser refused to start audio without a click (autoplay policy). */
  const audioBlocked = ref(false);
  const session = shallowRef<MediaSession>();
  const settings = shallowRef<ClientSettings>();
  const kind = ref<RoomKind>('meeting');
  const role = ref<Role>('participant');
  const audienceCount = ref(0);
  const webinarKeys = shallowRef<WebinarKeys>();
  /** The host's name while an invitation onto the stage waits for this viewer's answer. */
  const stageInviteFrom = ref<string>();
  const audioOnly = ref(false);
  /** The server announced a restart: 'reconnecting' means rejoining it, within its window. */
  const restarting = ref(false);
  let restart: RestartRejoin | undefined;

  const local = computed(() => participants.value.find((p) => p.isLocal));
  const participantCount = computed(() => participants.value.length);
  /** Everyone present: in a webinar the stage plus the audience count (viewers are not all listed). */
  const peopleCount = computed(() =>
    kind.value === 'webinar'
      ? participants.value.filter((p) => p.role !== 'viewer').length + audienceCount.value
      : participants.value.length,
  );
  const micOn = computed(() => local.value?.media.microphone?.paused === false);
  const cameraOn = computed(() => local.value?.media.camera?.paused === false);
  const sharingScreen = computed(() => Boolean(local.value?.media.screen));
  const handRaised = computed(() => local.value?.handRaisedAt != null);

  function find(peerId: string): Participant | undefined {
    return participants.value.find((p) => p.id === peerId);
  }

  function onRoomState(reply: JoinReply): void {
    const previous = new Map(participants.value.map((p) => [p.id, p]));
    const mine = previous.get(reply.peerId) ?? local.value;
    localPeerId.value = reply.peerId;
    settings.value = reply.settings;
    kind.value = reply.kind;
    role.value = reply.role;
    audienceCount.value = reply.audienceCount;
    // Hosts only: the server forgets the keys when it restarts; this browser may have kept them.
    webinarKeys.value = reply.role === 'host' ? webinarKeysFor(reply.roomId, reply.webinarKeys) : undefined;
    participants.value = [
      {
        id: reply.peerId,
        displayName: reply.self.displayName,
        isLocal: true,
        role: reply.role,
        tracks: mine?.tracks ?? {},
        media: mine?.media ?? {},
        handRaisedAt: reply.self.handRaisedAt,
        scores: {},
      },
      ...reply.peers.map((peer) => participantFrom(peer, previous.get(peer.id))),
    ];
    activeSpeakerId.value = reply.activeSpeakerId;
    if (reply.activeSpeakerId !== reply.peerId) stageSpeakerId.value = reply.activeSpeakerId;
    speaking.value = reply.speakingPeerIds;
    chat.replaceHistory(reply.chat);
    useModerationStore().applyRoomState(reply);
    useRecordingStore().applyRoomState(reply);
  }

  function sourceOfProducer(participant: Participant, producerId: string): MediaSource | undefined {
    return (Object.keys(participant.media) as MediaSource[]).find((s) => participant.media[s]?.producerId === producerId);
  }

  function createSession(forceRelay: boolean): MediaSession {
    return new MediaSession({
      onRoomState,
      onPeerJoined: (peer) => {
        if (!find(peer.id)) participants.value.push(participantFrom(peer)); // newcomers at the end
      },
      onPeerLeft: (peerId) => {
        participants.value = participants.value.filter((p) => p.id !== peerId);
      },
      onPeerUpdated: (peerId, handRaisedAt) => {
        const participant = find(peerId);
        if (participant) participant.handRaisedAt = handRaisedAt;
      },
      onProducer: (producer) => {
        const participant = find(producer.peerId);
        if (participant) participant.media[producer.source] = { producerId: producer.id, paused: producer.paused };
      },
      onProducerPaused: (peerId, producerId, paused) => {
        const participant = find(peerId);
        const source = participant && sourceOfProducer(participant, producerId);
        if (participant && source) participant.media[source] = { producerId, paused };
      },
      onProducerClosed: (peerId, producerId) => {
        const participant = find(peerId);
        const source = participant && sourceOfProducer(participant, producerId);
        if (participant && source) delete participant.media[source];
      },
      onTrack: (peerId, source, key) => {
        const participant = find(peerId);
        if (participant) participant.tracks[source] = key;
      },
      onTrackEnded: (peerId, source) => {
        const participant = find(peerId);
        if (participant) delete participant.tracks[source];
      },
      onLocalSource: (source: MediaSource, state: LocalSourceState | undefined) => {
        const me = local.value;
        if (!me) return;
        if (state) me.media[source] = { paused: state.paused };
        else delete me.media[source];
        if (state?.trackKey) me.tracks[source] = state.trackKey;
        else delete me.tracks[source];
      },
      onConsumerScore: (peerId, source, score, producerScore) => {
        const participant = find(peerId);
        if (participant) participant.scores[source] = { score, producerScore };
      },
      onChat: (message: ChatMessage) => chat.add(message),
      onActiveSpeaker: (peerId) => {
        activeSpeakerId.value = peerId;
        if (peerId && peerId !== localPeerId.value) stageSpeakerId.value = peerId;
      },
      onSpeaking: (peerIds) => {
        speaking.value = peerIds;
      },
      onConnectionChange: (state) => {
        if (state === 'connected') {
          restart?.rejoined();
          restarting.value = false;
        }
        if (status.value === 'joined' || status.value === 'reconnecting') {
          status.value = state === 'connected' ? 'joined' : 'reconnecting';
        }
      },
      onRoomClosed: (reason, byName) => {
        if (reason !== 'shutdown' || status.value !== 'joined') return fail(roomClosedMessage(reason, byName));
        restarting.value = true;
        status.value = 'reconnecting';
      },
      onReplaced: () => {
        session.value = undefined;
        status.value = 'replaced';
      },
      onAudienceCount: (count) => {
        audienceCount.value = count;
      },
      onStageInvite: (byName) => {
        stageInviteFrom.value = byName;
      },
      onStageInviteAnswered: (peerId, accepted) => {
        if (!accepted) notice.value = `${find(peerId)?.displayName ?? 'The viewer'} declined the invitation to the stage.`;
      },
      onRoleChanged: (peerId, newRole) => {
        const participant = find(peerId);
        if (participant) participant.role = newRole;
        if (peerId === localPeerId.value) void becomeRole(newRole);
      },
    }, { forceRelay });
  }

  function fail(message: string): void {
    restart?.close();
    useFilesStore().reset();
    session.value?.close();
    session.value = undefined;
    status.value = 'failed';
    error.value = message;
  }

  /**
   * Joins and starts receiving at once; local media (which may still be opening its devices) is
   * published as soon as both are ready, so camera start-up never delays seeing the others.
   */
  /** My own role changed: going on stage opens camera and mic; going back to the audience stops them. */
  async function becomeRole(newRole: Role): Promise<void> {
    role.value = newRole;
    const current = session.value;
    if (!current) return;
    if (newRole === 'viewer') {
      current.publisher.close();
      const me = local.value;
      if (me) {
        me.media = {};
        me.tracks = {};
        me.handRaisedAt = null;
      }
      // Viewers are not told about other viewers.
      participants.value = participants.value.filter((p) => p.isLocal || p.role !== 'viewer');
      return;
    }
    if (local.value) local.value.handRaisedAt = null; // the stage answered the hand
    if (newRole === 'speaker' && !local.value?.media.camera && !local.value?.media.microphone) {
      const media = await openLocalMedia({ camera: true, microphone: true });
      notice.value = media.problem;
      await control('go on stage', async (s) => {
        if (media.microphone) await s.publisher.publish('microphone', media.microphone);
        if (media.camera) await s.publisher.publish('camera', media.camera);
      });
    }
  }

  async function join(
    id: string,
    displayName: string,
    localMedia: LocalMedia | Promise<LocalMedia>,
    options: { cameraHeight?: number; key?: string; token?: string; forceRelay?: boolean } = {},
  ): Promise<void> {
    if (session.value) return;
    status.value = 'joining';
    error.value = undefined;
    roomId.value = id;
    chat.reset();
    const current = createSession(options.forceRelay ?? false);
    current.publisher.setCameraHeight(options.cameraHeight);
    session.value = current;
    restart = new RestartRejoin(current, () => fail(RESTART_GAVE_UP));
    useModerationStore().attach(current);
    useRecordingStore().attach(current);
    useFilesStore().attach(current);
    try {
      const [, media] = await Promise.all([current.join(id, displayName, options.key, options.token), localMedia]);
      notice.value = media.problem;
      for (const source of ['microphone', 'camera'] as const) {
        const track = media[source];
        if (track) await current.publisher.publish(source, track);
      }
      status.value = 'joined';
    } catch (cause) {
      fail(cause instanceof RequestError ? joinRefusalMessage(cause) : (cause as Error).message);
    }
  }

  async function leave(): Promise<void> {
    restart?.close();
    await session.value?.leave();
    useFilesStore().reset();
    session.value = undefined;
    participants.value = [];
    status.value = 'left';
  }

  /** Runs a control action; a failure becomes a visible notice instead of an unhandled rejection. */
  async function control(what: string, action: (s: MediaSession) => Promise<unknown>): Promise<void> {
    const current = session.value;
    if (!current) return;
    try {
      await action(current);
    } catch (cause) {
      notice.value = `Could not ${what}: ${(cause as Error).message}`;
    }
  }

  const toggleMic = () =>
    control('change the microphone', async (s) => {
      if (!local.value?.media.microphone) {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        return s.publisher.publish('microphone', stream.getAudioTracks()[0]!);
      }
      return s.publisher.setPaused('microphone', micOn.value);
    });
  const toggleCamera = () => control('change the camera', (s) => s.publisher.setCameraEnabled(!cameraOn.value));
  const toggleScreenShare = () =>
    control('share the screen', (s) => (sharingScreen.value ? s.publisher.stopScreenShare() : s.publisher.startScreenShare()));
  const toggleHand = () =>
    control('raise the hand', async (s) => {
      const raise = !handRaised.value;
      await s.setHandRaised(raise);
      if (local.value) local.value.handRaisedAt = raise ? Date.now() : null;
    });
  const switchDevice = (kind: 'camera' | 'microphone', deviceId: string) =>
    control(`switch the ${kind}`, (s) => s.publisher.switchDevice(kind, deviceId));
  const sendChat = (text: string) => control('send the message', async (s) => chat.add(await s.sendChat(text)));
  const inviteToStage = (peerId: string) => control('invite to the stage', (s) => s.inviteToStage(peerId));
  const moveToAudience = (peerId: string) => control('move to the audience', (s) => s.moveToAudience(peerId));
  const answerStageInvite = (accept: boolean) => {
    stageInviteFrom.value = undefined;
    return control('answer the invitation', (s) => s.answerStageInvite(accept));
  };
  function toggleAudioOnly(): void {
    audioOnly.value = !audioOnly.value;
    session.value?.views.setAudioOnly(audioOnly.value);
  }

  return {
    status, error, notice, roomId, localPeerId, participants, settings,
    kind, role, audienceCount, webinarKeys, stageInviteFrom, audioOnly, restarting,
    inviteToStage, moveToAudience, answerStageInvite, toggleAudioOnly, activeSpeakerId, stageSpeakerId, speaking, audioBlocked, session,
    local, participantCount, peopleCount, micOn, cameraOn, sharingScreen, handRaised,
    join, leave, toggleMic, toggleCamera, toggleScreenShare, toggleHand, switchDevice, sendChat,
  };
});
