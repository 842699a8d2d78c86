/**
 * A room's recording: started and stopped by a host, it records every producer the room has and
 * gets, a file per track (TrackRecorder), in one folder per recording with a manifest that says who
 * each file is, when it started, paused and ended, and who had the floor when: what a composite needs
 * to line the tracks up.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { type RecordingState, isModerator } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Peer, PeerProducer } from '../rooms/Peer.ts';
import type { RoomRouters } from '../rooms/RoomRouters.ts';
import { type Manifest, type ManifestTrack, writeManifest } from './manifest.ts';
import { type Recordings, safeFilePart } from './Recordings.ts';
import { containerFor } from './sdp.ts';
import { TrackRecorder } from './TrackRecorder.ts';

export type { ManifestTrack };

/** Whether ffmpeg runs at all, checked once per binary. */
const ffmpegWorks = new Map<string, boolean>();
function ffmpegAvailable(binary: string): boolean {
  let works = ffmpegWorks.get(binary);
  if (works === undefined) {
    works = spawnSync(binary, ['-hide_banner', '-version'], { stdio: 'ignore' }).status === 0;
    ffmpegWorks.set(binary, works);
  }
  return works;
}

export interface RoomRecordingHooks {
  /** Tells everyone in the room (recordingChanged). */
  announce(recording: RecordingState | null): void;
  /** Keeps every simulcast layer of a producer sent while recorded (Dynacast would drop unseen ones). */
  wantAllLayers(producerId: string): () => void;
}

interface RecordedTrack {
  recorder: Promise<TrackRecorder | undefined>;
  entry: ManifestTrack;
  release: () => void;
}

export class RoomRecording {
  #state: RecordingState | null = null;
  #folder = '';
  #manifest: Manifest | undefined;
  readonly #tracks = new Map<string, RecordedTrack>();

  constructor(
    private readonly roomId: string,
    private readonly routers: RoomRouters,
    private readonly recordings: Recordings,
    private readonly logger: Logger,
    private readonly hooks: RoomRecordingHooks,
  ) {}

  get state(): RecordingState | null {
    return this.#state;
  }

  /** The folder of the recording under way (or the last one). */
  get folder(): string {
    return this.#folder;
  }

  /** A host or co-host starts recording every current producer (and every later one). */
  async start(by: Peer, producers: Iterable<{ peer: Peer; producer: PeerProducer }>, activeSpeakerId: string | null): Promise<RecordingState> {
    if (!isModerator(by.role)) throw new SignalingError('FORBIDDEN', 'only hosts and co-hosts start a recording');
    if (this.#state) throw new SignalingError('RECORDING_STATE', 'the room is already being recorded');
    const config = this.recordings.config;
    if (!ffmpegAvailable(config.ffmpeg)) throw new SignalingError('RECORDING_UNAVAILABLE', 'this server cannot record (ffmpeg is not installed)');
    const startedAt = Date.now();
    const folder = this.recordings.folderOf(this.roomId, new Date(startedAt).toISOString().replace(/[:.]/g, '-'));
    let freeMb: number;
    try {
      mkdirSync(folder, { recursive: true, mode: 0o750 });
      const disk = statfsSync(folder);
      freeMb = Math.floor((disk.bavail * disk.bsize) / (1024 * 1024));
    } catch (error) {
      throw new SignalingError('RECORDING_UNAVAILABLE', `the recordings folder cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (freeMb < config.minFreeMb) {
      throw new SignalingError('RECORDING_NO_SPACE', `not enough free disk space to record: ${freeMb} MB free, ${config.minFreeMb} MB needed`);
    }
    this.#folder = folder;
    this.#manifest = { roomId: this.roomId, startedAt, byName: by.displayName, durationMs: null, tracks: [], speakers: [{ atMs: 0, peerId: activeSpeakerId }] };
    this.#state = { startedAt, byName: by.displayName };
    this.recordings.recordingStarted(folder);
    this.logger.info({ folder, by: by.id }, 'recording started');
    this.hooks.announce(this.#state);
    for (const { peer, producer } of producers) this.track(peer, producer);
    return this.#state;
  }

  /** A producer to record, if a recording runs: now, and its file ends when the producer closes. */
  track(peer: Peer, producer: PeerProducer): void {
    const manifest = this.#manifest;
    if (!this.#state || !manifest || this.#tracks.has(producer.id) || producer.closed) return;
    const { format, extension } = containerFor(producer.rtpParameters.codecs[0]?.mimeType ?? '');
    const file = `${String(manifest.tracks.length + 1).padStart(2, '0')}-${safeFilePart(peer.displayName)}-${producer.appData.source}.${extension}`;
    const now = this.#elapsed();
    const entry: ManifestTrack = {
      file,
      peerId: peer.id,
      displayName: peer.displayName,
      source: producer.appData.source,
      kind: producer.kind,
      mimeType: producer.rtpParameters.codecs[0]?.mimeType ?? '',
      startMs: now,
      endMs: null,
      pauses: producer.paused ? [[now, null]] : [],
    };
    manifest.tracks.push(entry);
    const recorder = (async () => {
      await this.routers.ensureProducerOn(producer.id, peer.router, this.routers.main);
      const started = await TrackRecorder.start(this.routers.main, producer.id, { ffmpeg: this.recordings.config.ffmpeg, file: path.join(this.#folder, file), format, logger: this.logger });
      const folder = this.#folder;
      void started.firstMedia.then((at) => {
        entry.mediaStartMs = at - manifest.startedAt;
        this.#save(folder, manifest); // that recording's, even if it has ended and another begun
      });
      return started;
    })().catch((error: unknown) => {
      this.logger.warn({ err: error, producerId: producer.id }, 'cannot record a track');
      return undefined;
    });
    const onPause = () => {
      entry.pauses.push([this.#elapsed(), null]);
      this.#writeManifest();
    };
    const onResume = () => {
      const open = entry.pauses.at(-1);
      if (open && open[1] === null) open[1] = this.#elapsed();
      this.#writeManifest();
    };
    producer.observer.on('pause', onPause);
    producer.observer.on('resume', onResume);
    const releaseLayers = this.hooks.wantAllLayers(producer.id);
    const release = () => {
      producer.observer.off('pause', onPause);
      producer.observer.off('resume', onResume);
      releaseLayers();
    };
    this.#tracks.set(producer.id, { recorder, entry, release });
    producer.observer.once('close', () => void this.#endTrack(producer.id));
    this.#writeManifest();
  }

  /** The floor changed hands (the speaker view of the composite follows it). */
  speakerChanged(peerId: string | null): void {
    if (!this.#state || !this.#manifest) return;
    this.#manifest.speakers.push({ atMs: this.#elapsed(), peerId });
    this.#writeManifest();
  }

  /** Stops every track and finishes their files; resolves with the number of tracks recorded. */
  async stop(): Promise<number> {
    const manifest = this.#manifest;
    if (!this.#state || !manifest) throw new SignalingError('RECORDING_STATE', 'the room is not being recorded');
    this.#state = null;
    const durationMs = this.#elapsed();
    await Promise.all([...this.#tracks.keys()].map((id) => this.#endTrack(id, durationMs)));
    manifest.durationMs = durationMs;
    this.#writeManifest();
    this.logger.info({ folder: this.#folder, tracks: manifest.tracks.length }, 'recording stopped');
    this.recordings.recordingStopped(this.#folder);
    this.hooks.announce(null);
    return manifest.tracks.length;
  }

  /** The room closes: a recording under way ends with it. */
  close(): void {
    if (this.#state) this.recordings.finishing(this.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'cannot finish the recording')));
  }

  /** The running track recorders (tests reach ffmpeg through them). */
  async recorders(): Promise<TrackRecorder[]> {
    const all = await Promise.all([...this.#tracks.values()].map((t) => t.recorder));
    return all.filter((r): r is TrackRecorder => r !== undefined);
  }

  #elapsed(): number {
    return Date.now() - (this.#manifest?.startedAt ?? Date.now());
  }

  async #endTrack(producerId: string, at = this.#elapsed()): Promise<void> {
    const track = this.#tracks.get(producerId);
    if (!track) return;
    this.#tracks.delete(producerId);
    track.release();
    track.entry.endMs = at;
    const open = track.entry.pauses.at(-1);
    if (open && open[1] === null) open[1] = at;
    await (await track.recorder)?.stop();
    this.#writeManifest();
  }

  #writeManifest(): void {
    if (this.#manifest) this.#save(this.#folder, this.#manifest);
  }

  #save(folder: string, manifest: Manifest): void {
    try {
      writeManifest(folder, manifest);
    } catch (error) {
      this.logger.warn({ err: error }, 'cannot write the recording manifest');
    }
  }
}
