import type { CompositeLayout, RecordingState } from '../../../shared/index.ts';
import { type SignalingSocket, request, withConnection } from './signaling.ts';

/** Recording requests on the session's socket (hosts and co-hosts; the server checks the role). */
export class RecordingControls {
  constructor(private readonly socket: SignalingSocket) {}

  start() {
    return request(this.socket, 'startRecording', {});
  }

  stop() {
    return request(this.socket, 'stopRecording', {});
  }

  list() {
    return request(this.socket, 'listRecordings', {});
  }

  render(recordingId: string, layout: CompositeLayout) {
    return request(this.socket, 'renderRecording', { recordingId, layout });
  }

  remove(recordingId: string) {
    return request(this.socket, 'deleteRecording', { recordingId });
  }
}

/** Before joining: whether the room is being recorded now (null when not, or when unknown). */
export async function recordingBeforeJoin(roomId: string): Promise<RecordingState | null> {
  return (await withConnection((socket) => request(socket, 'roomStatus', { roomId }))).recording;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GB`;
}

export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}
