/**
 * What a recording folder holds besides its track files: `manifest.json`, which says who each file
 * is, when it started and ended, when it was paused, and who had the floor when. The composite lines
 * the tracks up from it, and the recordings list reads it.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const MANIFEST_FILE = 'manifest.json';

const trackSchema = z.object({
  file: z.string().regex(/^[A-Za-z0-9._-]+$/),
  peerId: z.string(),
  displayName: z.string(),
  source: z.string(),
  kind: z.enum(['audio', 'video']),
  mimeType: z.string(),
  /** Milliseconds since the recording started. */
  startMs: z.number(),
  /** When the file's first frame arrived (its time zero): the first keyframe, or the first audio packet. */
  mediaStartMs: z.number().optional(),
  endMs: z.number().nullable(),
  /** Spans (ms since the start) when the producer was paused: a muted microphone, a camera turned off. */
  pauses: z.array(z.tuple([z.number(), z.number().nullable()])).default([]),
});

const manifestSchema = z.object({
  roomId: z.string(),
  startedAt: z.number(),
  /** Who started it (their display name). */
  byName: z.string().default(''),
  /** Milliseconds from start to stop; null while recording (or when the server died mid-recording). */
  durationMs: z.number().nullable().default(null),
  tracks: z.array(trackSchema),
  /** Who had the floor from when (ms since the start); null: nobody. */
  speakers: z.array(z.object({ atMs: z.number(), peerId: z.string().nullable() })).default([]),
});

export type ManifestTrack = z.infer<typeof trackSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** Reads a folder's manifest; throws when it is missing or not one of ours. */
export function readManifest(folder: string): Manifest {
  return manifestSchema.parse(JSON.parse(readFileSync(path.join(folder, MANIFEST_FILE), 'utf8')));
}

/** Written beside and renamed over, so a reader (or a crash) never sees half a manifest. */
export function writeManifest(folder: string, manifest: Manifest): void {
  const target = path.join(folder, MANIFEST_FILE);
  writeFileSync(`${target}.tmp`, JSON.stringify(manifest, null, 2));
  renameSync(`${target}.tmp`, target);
}

/** A file's size in bytes; 0 when it does not exist (a recorder that never got media never made it). */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * How long a recording lasts: its stop time, or for one cut short by a crash, up to the last write to
 * any of its track files.
 */
export function recordingDurationMs(folder: string, manifest: Manifest): number {
  if (manifest.durationMs !== null) return manifest.durationMs;
  let lastWrite = 0;
  for (const track of manifest.tracks) {
    try {
      lastWrite = Math.max(lastWrite, statSync(path.join(folder, track.file)).mtimeMs);
    } catch {
      // never written
    }
  }
  return Math.max(0, Math.round(lastWrite - manifest.startedAt), ...manifest.tracks.map((t) => t.endMs ?? 0));
}
