import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ChatMessage, ClientSettings, JoinReply, MediaSource, PeerInfo } from '../../../shared/index.ts';
import { MediaSession } from '../services/MediaSession.ts';
import type { LocalSourceState } from '../services/Publisher.ts';
import type { LocalMedia } from '../services/media-devices.ts';
import { RequestError } from '../services/signaling.ts';
import { useChatStore } from './chat.ts';

export interface SourceState {
  producerId?: string;
  paused: boolean;
}

export interface Participant {
  id: string;
  displayName: string;
  isLocal: boolean;
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

  const local = computed(() => participants.value.find((p) => p.isLocal));
  const participantCount = computed(() => participants.value.length);
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
    participants.value = [
      {
        id: reply.peerId,
        displayName: reply.self.displayName,
        isLocal: true,
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
  }

  function sourceOfProducer(participant: Participant, producerId: string): MediaSource | undefined {
    return (Object.keys(participant.media) as MediaSource[]).find((s) => participant.media[s]?.producerId === producerId);
  }

  function createSession(): MediaSession {
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
        if (status.value === 'joined' || status.value === 'reconnecting') {
          status.value = state === 'connected' ? 'joined' : 'reconnecting';
        }
      },
      onRoomClosed: (reason) => {
        fail(reason === 'shutdown' ? 'The server is restarting. Rejoin in a moment.' : 'The meeting ended unexpectedly on the server.');
      },
      onReplaced: () => {
        session.value = undefined;
        status.value = 'replaced';
      },
    });
  }

  function fail(message: string): void {
    session.value?.close();
    session.value = undefined;
    status.value = 'failed';
    error.value = message;
  }

  /**
   * Joins and starts receiving at once; local media (which may still be opening its devices) is
   * published as soon as both are ready, so camera start-up never delays seeing the others.
   */
  async function join(
    id: string,
    displayName: string,
    localMedia: LocalMedia | Promise<LocalMedia>,
    options: { cameraHeight?: number } = {},
  ): Promise<void> {
    if (session.value) return;
    status.value = 'joining';
    error.value = undefined;
    roomId.value = id;
    chat.reset();
    const current = createSession();
    current.publisher.setCameraHeight(options.cameraHeight);
    session.value = current;
    try {
      const [, media] = await Promise.all([current.join(id, displayName), localMedia]);
      notice.value = media.problem;
      for (const source of ['microphone', 'camera'] as const) {
        const track = media[source];
        if (track) await current.publisher.publish(source, track);
      }
      status.value = 'joined';
    } catch (cause) {
      fail(cause instanceof RequestError ? `Could not join: ${cause.message}` : (cause as Error).message);
    }
  }

  async function leave(): Promise<void> {
    await session.value?.leave();
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

  return {
    status, error, notice, roomId, localPeerId, participants, settings, activeSpeakerId, stageSpeakerId, speaking, audioBlocked, session,
    local, participantCount, micOn, cameraOn, sharingScreen, handRaised,
    join, leave, toggleMic, toggleCamera, toggleScreenShare, toggleHand, switchDevice, sendChat,
  };
});
