import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { MediaSource, PeerInfo, ProducerInfo } from '../../../shared/index.ts';
import { MediaSession } from '../services/MediaSession.ts';
import type { LocalMedia } from '../services/media-devices.ts';
import { RequestError } from '../services/signaling.ts';

export interface Participant {
  id: string;
  displayName: string;
  isLocal: boolean;
  /** Keys for `session.track(key)`; undefined while nothing is received for that source. */
  tracks: Partial<Record<MediaSource, string>>;
  /** What the participant publishes, known from producer announcements. */
  publishing: Partial<Record<MediaSource, boolean>>;
}

export type RoomStatus = 'idle' | 'joining' | 'joined' | 'left' | 'failed';

const FRIENDLY_ERRORS: Partial<Record<string, string>> = {
  ROOM_FULL: 'This meeting is full.',
  INVALID_PAYLOAD: 'The server refused the request:',
  TIMEOUT: 'The server did not answer in time.',
  DISCONNECTED: 'Not connected to the server.',
};

/** The meeting as the UI sees it: plain, serialisable data. Media objects stay in MediaSession. */
export const useRoomStore = defineStore('room', () => {
  const status = ref<RoomStatus>('idle');
  const error = ref<string>();
  const notice = ref<string>();
  const roomId = ref<string>();
  const localPeerId = ref<string>();
  const participants = ref<Participant[]>([]);
  /** Not reactive inside: the session holds Device, transports and tracks. */
  const session = shallowRef<MediaSession>();

  const participantCount = computed(() => participants.value.length);

  function find(peerId: string): Participant | undefined {
    return participants.value.find((p) => p.id === peerId);
  }

  function addRemote(peer: PeerInfo): void {
    if (find(peer.id)) return;
    const publishing: Participant['publishing'] = {};
    for (const producer of peer.producers) publishing[producer.source] = true;
    participants.value.push({ id: peer.id, displayName: peer.displayName, isLocal: false, tracks: {}, publishing });
  }

  async function join(id: string, displayName: string, media: LocalMedia): Promise<void> {
    if (session.value) return;
    status.value = 'joining';
    error.value = undefined;
    roomId.value = id;
    notice.value = media.problem;
    const current = new MediaSession({
      onPeerJoined: addRemote,
      onPeerLeft: (peerId) => {
        participants.value = participants.value.filter((p) => p.id !== peerId);
      },
      onTrack: (peerId, source, key) => {
        const participant = find(peerId);
        if (participant) participant.tracks = { ...participant.tracks, [source]: key };
      },
      onTrackEnded: (peerId, source) => {
        const participant = find(peerId);
        if (!participant) return;
        const { [source]: _gone, ...rest } = participant.tracks;
        participant.tracks = rest;
      },
      onProducer: (producer: ProducerInfo) => {
        const participant = find(producer.peerId);
        if (participant) participant.publishing = { ...participant.publishing, [producer.source]: true };
      },
      onProducerClosed: () => undefined,
      onConnectionChange: (state) => {
        if (state !== 'disconnected' || status.value !== 'joined') return;
        // The server has already removed us; rejoining is the way back for now.
        status.value = 'failed';
        error.value = 'Lost the connection to the server.';
        current.close();
        session.value = undefined;
      },
      onRoomClosed: (reason) => {
        status.value = 'failed';
        error.value = reason === 'shutdown' ? 'The server is restarting. Rejoin in a moment.' : 'The meeting ended unexpectedly on the server.';
      },
    });
    session.value = current;
    try {
      const joined = await current.join(id, displayName);
      localPeerId.value = joined.peerId;
      participants.value = [
        { id: joined.peerId, displayName, isLocal: true, tracks: {}, publishing: {} },
      ];
      joined.peers.forEach(addRemote);
      const local = participants.value[0]!;
      for (const source of ['camera', 'microphone'] as const) {
        const track = media[source];
        if (!track) continue;
        await current.publish(source, track);
        local.tracks = { ...local.tracks, [source]: `local:${source}` };
        local.publishing = { ...local.publishing, [source]: true };
      }
      status.value = 'joined';
    } catch (cause) {
      current.close();
      session.value = undefined;
      status.value = 'failed';
      error.value =
        cause instanceof RequestError
          ? `${FRIENDLY_ERRORS[cause.code] ?? 'Could not join:'} ${cause.message}`.trim()
          : (cause as Error).message;
    }
  }

  async function leave(): Promise<void> {
    await session.value?.leave();
    session.value = undefined;
    participants.value = [];
    status.value = 'left';
  }

  return { status, error, notice, roomId, localPeerId, participants, participantCount, session, join, leave };
});
