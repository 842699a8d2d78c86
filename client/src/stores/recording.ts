import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { type CompositeLayout, type JoinReply, type RecordingState, type RecordingSummary, isModerator } from '../../../shared/index.ts';
import type { MediaSession } from '../services/MediaSession.ts';
import { RecordingControls } from '../services/recording.ts';
import { useRoomStore } from './room.ts';

/** While a composite renders, the open list refreshes this often (its progress). */
const REFRESH_MS = 2_000;

/**
 * Server-side recording as this person sees it: whether the room is being recorded (everyone), and
 * for hosts and co-hosts of meetings and webinars the Record button and the room's recordings, with
 * their download links and composite renders.
 */
export const useRecordingStore = defineStore('recording', () => {
  const room = useRoomStore();
  /** The room is being recorded on the server: everyone in it sees so. */
  const recording = ref<RecordingState | null>(null);
  const recordings = ref<RecordingSummary[]>([]);
  /** The recordings list is on screen (refreshed while something renders). */
  const listOpen = ref(false);
  const error = ref<string>();
  let controls: RecordingControls | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;

  const canRecord = computed(() => isModerator(room.role));
  const rendering = computed(() => recordings.value.some((r) => r.composites.some((c) => c.state === 'queued' || c.state === 'rendering')));

  function attach(session: MediaSession): void {
    controls = new RecordingControls(session.socket);
    recording.value = null;
    recordings.value = [];
    error.value = undefined;
    session.socket.on('recordingChanged', ({ recording: state }) => {
      recording.value = state;
      if (listOpen.value) void refresh();
    });
  }

  function applyRoomState(reply: JoinReply): void {
    recording.value = reply.recording ?? null;
  }

  async function act<T>(what: string, action: (c: RecordingControls) => Promise<T>): Promise<T | undefined> {
    if (!controls) return undefined;
    try {
      error.value = undefined;
      return await action(controls);
    } catch (cause) {
      error.value = `Could not ${what}: ${(cause as Error).message}`;
      return undefined;
    }
  }

  async function refresh(): Promise<void> {
    if (!canRecord.value) return;
    const reply = await act('list the recordings', (c) => c.list());
    if (reply) recordings.value = reply.recordings;
  }

  // The list follows renders while it is open; nothing is polled otherwise.
  watch([listOpen, rendering], ([open, busy]) => {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = undefined;
    if (!open || !busy) return;
    const tick = () => {
      refreshTimer = setTimeout(() => void refresh().then(() => listOpen.value && rendering.value && tick()), REFRESH_MS);
    };
    tick();
  });

  function toggleList(): void {
    listOpen.value = !listOpen.value;
    if (listOpen.value) void refresh();
  }

  return {
    recording, recordings, listOpen, error, canRecord, rendering,
    attach, applyRoomState, refresh, toggleList,
    toggle: () =>
      recording.value
        ? act('stop the recording', (c) => c.stop())
        : act('start recording', async (c) => (recording.value = await c.start())),
    render: async (recordingId: string, layout: CompositeLayout) => {
      await act('render the recording', (c) => c.render(recordingId, layout));
      await refresh();
    },
    remove: async (recordingId: string) => {
      await act('delete the recording', (c) => c.remove(recordingId));
      await refresh();
    },
  };
});
