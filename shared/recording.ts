/**
 * Recording contracts: what hosts see of a room's recordings (the list, each track file, the
 * composites and their render progress), and the payloads of the requests that manage them.
 */
import { z } from 'zod';

export const COMPOSITE_LAYOUTS = ['grid', 'speaker'] as const;
export type CompositeLayout = (typeof COMPOSITE_LAYOUTS)[number];

/** A recording's id: the folder name, its start time in ISO form with `:` and `.` made `-`. */
export const recordingIdSchema = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/, 'not a recording id');

export const recordingRequestSchemas = {
  /** Hosts and co-hosts: the room's recordings, with download links valid for a while. */
  listRecordings: z.strictObject({}),
  /** Hosts and co-hosts: render (again) a recording's composite in a layout, in the background. */
  renderRecording: z.strictObject({ recordingId: recordingIdSchema, layout: z.enum(COMPOSITE_LAYOUTS) }),
  /** Hosts and co-hosts: delete a finished recording and its files. */
  deleteRecording: z.strictObject({ recordingId: recordingIdSchema }),
} as const;

export interface CompositeStatus {
  layout: CompositeLayout;
  state: 'queued' | 'rendering' | 'done' | 'failed';
  /** 0 to 1. */
  progress: number;
  /** How long the render took (done only). */
  renderMs?: number;
  error?: string;
}

export interface RecordedTrack {
  file: string;
  displayName: string;
  source: string;
  kind: 'audio' | 'video';
  sizeBytes: number;
  /** A download link that works for a while without the host key. */
  url: string;
}

export interface RecordingSummary {
  id: string;
  startedAt: number;
  /** Null while it is still recording. */
  durationMs: number | null;
  byName: string;
  sizeBytes: number;
  tracks: RecordedTrack[];
  /** Each layout rendered or being rendered; a finished one has its link. */
  composites: Array<CompositeStatus & { url?: string; sizeBytes?: number }>;
  /** When the server deletes it (retention), epoch ms; null: kept until deleted. */
  expiresAt: number | null;
}
