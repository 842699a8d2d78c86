/**
 * The server's recordings, across rooms: the folder tree under `recording.dir` (one folder per room,
 * one per recording in it), the composite render queue, download links, and retention. Rooms record
 * through their RoomRecording; this is what outlives them.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { COMPOSITE_LAYOUTS, type CompositeLayout, type CompositeStatus, type RecordingSummary } from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { CompositeJobs, compositeFile } from './CompositeJobs.ts';
import { DownloadLinks, type LinkTarget } from './download-links.ts';
import { type Manifest, fileSize, readManifest, recordingDurationMs } from './manifest.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** A file-name part made from what a person typed (or a room id): letters, digits, dash; never a path. */
export function safeFilePart(text: string): string {
  return text.normalize('NFKD').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'someone';
}

export class Recordings {
  readonly jobs: CompositeJobs;
  readonly links: DownloadLinks;
  /** Folders being recorded now: never deleted, never rendered. */
  readonly #live = new Set<string>();
  /** Recordings finishing their files (a room closed): a shutdown waits for them. */
  readonly #finishing = new Set<Promise<unknown>>();
  readonly #sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: Config['recording'],
    private readonly logger: Logger,
    options: { baseUrl?: string; now?: () => number } = {},
  ) {
    this.jobs = new CompositeJobs({ ffmpeg: config.ffmpeg, concurrency: config.compositeJobs, logger });
    this.links = new DownloadLinks(config.linkSecret, options.baseUrl ?? '', options.now);
    this.now = options.now ?? Date.now;
    if (config.retentionDays > 0) {
      this.sweep();
      this.#sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.#sweepTimer.unref();
    }
  }

  private readonly now: () => number;

  roomFolder(roomId: string): string {
    return path.join(this.config.dir, safeFilePart(roomId));
  }

  folderOf(roomId: string, recordingId: string): string {
    return path.join(this.roomFolder(roomId), recordingId);
  }

  recordingStarted(folder: string): void {
    this.#live.add(folder);
  }

  /** A recording ended: its composite is rendered in the configured layout (if any). */
  recordingStopped(folder: string): void {
    this.#live.delete(folder);
    if (this.config.composite !== 'none') this.jobs.enqueue(folder, this.config.composite);
  }

  /** The room's recordings, newest first, with links valid for a while. */
  list(roomId: string): RecordingSummary[] {
    const roomFolder = this.roomFolder(roomId);
    let ids: string[];
    try {
      ids = readdirSync(roomFolder);
    } catch {
      return []; // nothing recorded yet
    }
    const summaries: RecordingSummary[] = [];
    for (const id of ids.sort().reverse()) {
      const folder = path.join(roomFolder, id);
      let manifest: Manifest;
      try {
        manifest = readManifest(folder);
      } catch {
        continue; // not a recording folder (or one whose manifest was never written)
      }
      summaries.push(this.#summary(roomId, id, folder, manifest));
    }
    return summaries;
  }

  render(roomId: string, recordingId: string, layout: CompositeLayout): CompositeStatus {
    const folder = this.#existing(roomId, recordingId);
    if (this.#live.has(folder)) throw new SignalingError('RECORDING_STATE', 'this recording is still under way: stop it first');
    return this.jobs.enqueue(folder, layout);
  }

  delete(roomId: string, recordingId: string): void {
    const folder = this.#existing(roomId, recordingId);
    if (this.#live.has(folder)) throw new SignalingError('RECORDING_STATE', 'this recording is still under way: stop it first');
    this.#remove(folder);
  }

  /** The file a download link points at, if it still exists. */
  fileFor(target: LinkTarget): string | undefined {
    const file = path.join(this.config.dir, target.roomPart, target.recordingId, target.file);
    return existsSync(file) ? file : undefined;
  }

  /** Deletes recordings older than the retention period (those under way excepted). */
  sweep(): number {
    if (this.config.retentionDays <= 0) return 0;
    const cutoff = this.now() - this.config.retentionDays * DAY_MS;
    let removed = 0;
    let rooms: string[];
    try {
      rooms = readdirSync(this.config.dir);
    } catch {
      return 0; // nothing recorded yet
    }
    for (const room of rooms) {
      const roomFolder = path.join(this.config.dir, room);
      let ids: string[];
      try {
        ids = readdirSync(roomFolder);
      } catch {
        continue; // a stray file
      }
      for (const id of ids) {
        const folder = path.join(roomFolder, id);
        if (this.#live.has(folder)) continue;
        let startedAt: number;
        try {
          startedAt = readManifest(folder).startedAt;
        } catch {
          continue; // not ours: left alone
        }
        if (startedAt < cutoff) {
          this.#remove(folder);
          removed += 1;
        }
      }
    }
    if (removed) this.logger.info({ removed, retentionDays: this.config.retentionDays }, 'old recordings deleted');
    return removed;
  }

  /** A recording is finishing its files in the background (its room closed). */
  finishing(stop: Promise<unknown>): void {
    const tracked = stop.finally(() => this.#finishing.delete(tracked));
    this.#finishing.add(tracked);
  }

  /**
   * Lets recordings finish their files, then stops the renders. A shutdown waits for it: an ffmpeg
   * left behind would never write its file's index and duration.
   */
  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    await Promise.allSettled([...this.#finishing]);
    this.jobs.close();
  }

  #existing(roomId: string, recordingId: string): string {
    const folder = this.folderOf(roomId, recordingId);
    if (!existsSync(path.join(folder, 'manifest.json'))) throw new SignalingError('RECORDING_NOT_FOUND', 'no such recording in this room');
    return folder;
  }

  #remove(folder: string): void {
    this.jobs.cancel(folder);
    rmSync(folder, { recursive: true, force: true });
    this.logger.info({ folder }, 'recording deleted');
  }

  #summary(roomId: string, id: string, folder: string, manifest: Manifest): RecordingSummary {
    const roomPart = safeFilePart(roomId);
    const link = (file: string) => this.links.url({ roomPart, recordingId: id, file });
    const tracks = manifest.tracks.map((track) => ({
      file: track.file,
      displayName: track.displayName,
      source: track.source,
      kind: track.kind,
      sizeBytes: fileSize(path.join(folder, track.file)),
      url: link(track.file),
    }));
    const composites: RecordingSummary['composites'] = [];
    for (const layout of COMPOSITE_LAYOUTS) {
      const file = path.join(folder, compositeFile(layout));
      const job = this.jobs.status(folder, layout);
      if (job && job.state !== 'done') composites.push(job);
      else if (existsSync(file)) composites.push({ ...(job ?? { layout, state: 'done', progress: 1 }), url: link(compositeFile(layout)), sizeBytes: fileSize(file) });
    }
    const sizeBytes = tracks.reduce((n, t) => n + t.sizeBytes, 0) + composites.reduce((n, c) => n + (c.sizeBytes ?? 0), 0);
    return {
      id,
      startedAt: manifest.startedAt,
      durationMs: this.#live.has(folder) ? null : recordingDurationMs(folder, manifest),
      byName: manifest.byName,
      sizeBytes,
      tracks,
      composites,
      expiresAt: this.config.retentionDays > 0 ? manifest.startedAt + this.config.retentionDays * DAY_MS : null,
    };
  }
}
