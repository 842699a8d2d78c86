import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { type FileCancelReason, type SharedFileInfo, isModerator } from '../../../shared/index.ts';
import type { MediaSession } from '../services/MediaSession.ts';
import type { TransferStatus } from '../services/files/FileSharing.ts';
import { useChatStore } from './chat.ts';
import { useModerationStore } from './moderation.ts';
import { useRoomStore } from './room.ts';

/** A shared file as the chat shows it: what the server says of it, and this browser's own transfer. */
export interface SharedFileEntry extends SharedFileInfo {
  mine: boolean;
  transfer: TransferStatus;
  /** Bytes the server has stored (one's own upload) or this browser has received. */
  bytes: number;
  /** Object URL of the verified file, for the Save link; revoked when the entry goes. */
  url?: string;
  error?: string;
  /** Why it left the room, once it has; the chat keeps a line for it. */
  removed?: FileCancelReason;
  /** Epoch ms this browser's transfer started and finished (progress display, tests). */
  startedAt?: number;
  completedAt?: number;
}

/**
 * Files shared in the meeting, for the chat. The session's FileSharing service moves the bytes; this
 * store keeps plain data (the Blobs only as object URLs), and the actions, whose refusals become a
 * notice rather than an unhandled rejection.
 */
export const useFilesStore = defineStore('files', () => {
  const room = useRoomStore();
  const chat = useChatStore();
  const moderation = useModerationStore();
  const files = ref<SharedFileEntry[]>([]);
  const notice = ref<string>();
  const seenOthers = ref(0);
  let session: MediaSession | undefined;

  const fromOthers = computed(() => files.value.filter((file) => !file.mine).length);
  const unread = computed(() => (chat.open ? 0 : Math.max(0, fromOthers.value - seenOthers.value)));
  /** Whether this person may share now: the server's switch, their role, and the hosts' setting. */
  const canShare = computed(() => {
    const limits = room.settings?.files;
    if (!limits?.enabled || room.role === 'viewer') return false;
    return moderation.settings.fileSharing === 'everyone' || isModerator(room.role);
  });
  watch(() => chat.open, (open) => {
    if (open) seenOthers.value = fromOthers.value;
  });

  const find = (fileId: string) => files.value.find((file) => file.id === fileId);

  function upsert(info: SharedFileInfo): void {
    const entry = find(info.id);
    if (entry) {
      Object.assign(entry, info);
      return;
    }
    files.value.push({ ...info, mine: info.peerId === room.localPeerId, transfer: 'idle', bytes: 0 });
    files.value.sort((a, b) => a.sharedAt - b.sharedAt);
    if (chat.open) seenOthers.value = fromOthers.value;
  }

  function revoke(entry: SharedFileEntry): void {
    if (entry.url) URL.revokeObjectURL(entry.url);
    delete entry.url;
  }

  /** Called when the room store creates a session, before it joins. */
  function attach(current: MediaSession): void {
    reset();
    session = current;
    current.files.listen({
      onFiles(list) {
        for (const info of list) upsert(info);
        seenOthers.value = Math.min(seenOthers.value, fromOthers.value);
      },
      onFile: upsert,
      onRemoved(fileId, reason) {
        const entry = find(fileId);
        if (!entry) return;
        entry.removed = reason;
        revoke(entry);
      },
      onTransfer(fileId, update) {
        const entry = find(fileId);
        if (!entry) return;
        if (update.status === 'idle') delete entry.startedAt;
        else entry.startedAt ??= Date.now();
        entry.transfer = update.status;
        entry.bytes = update.bytes;
        if (update.error) entry.error = update.error;
        else delete entry.error;
        if (update.status === 'done') entry.completedAt = Date.now();
        if (update.blob) {
          revoke(entry);
          entry.url = URL.createObjectURL(update.blob);
        }
      },
    });
  }

  /** Forgets every file and frees the downloaded ones. */
  function reset(): void {
    for (const entry of files.value) revoke(entry);
    files.value = [];
    seenOthers.value = 0;
    notice.value = undefined;
    session = undefined;
  }

  async function act(what: string, action: (s: MediaSession) => Promise<unknown>): Promise<void> {
    if (!session) return;
    try {
      await action(session);
    } catch (cause) {
      notice.value = `Could not ${what}: ${(cause as Error).message}`;
    }
  }

  return {
    files, notice, unread, canShare, attach, reset,
    share: (file: File) => act(`share "${file.name}"`, (s) => s.files.share(file)),
    download: (fileId: string) => act('download the file', (s) => s.files.download(fileId)),
    stopDownload: (fileId: string) => act('stop the download', (s) => s.files.stopDownload(fileId)),
    remove: (fileId: string) => act('remove the file', (s) => s.files.remove(fileId)),
    /** Plain numbers and names for diagnostics and end-to-end tests (window.roundtable.files). */
    snapshot: () => files.value.map(({ url, ...rest }) => ({ ...rest, saved: url !== undefined })),
  };
});
