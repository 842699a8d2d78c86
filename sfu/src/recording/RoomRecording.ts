/**
 * A room's recording: started and stopped by a host, it records every producer the room has and
 * gets, a file per track (TrackRecorder), in one folder per recording with a manifest that says who
 * each file is and when it started and ended (what a composite needs to line the tracks up).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type RecordingState, isModerator } from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Peer, PeerProducer } from '../rooms/Peer.ts';
import type { RoomRouters } from '../rooms/RoomRouters.ts';
import { containerFor } from './sdp.ts';
import { TrackRecorder } from './TrackRecorder.ts';

export interface ManifestTrack {
  file: string;
  peerId: string;
  displayName: string;
  source: string;
  kind: 'audio' | 'video';
  mimeType: string;
  /** Milliseconds since the recording started. */
  startMs: number;
  endMs: number | null;
}

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

/** A file-name part made from what a person typed: letters, digits, dash; never a path. */
export function safeFilePart(text: string): string {
  return text.normalize('NFKD').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'someone';
}

export class RoomRecording {
  #state: RecordingState | null = null;
  #folder = '';
  #startedAt = 0;
  readonly #tracks = new Map<string, { recorder: Promise<TrackRecorder | undefined>; entry: ManifestTrack }>();
  readonly #manifest: ManifestTrack[] = [];

  constructor(
    private readonly roomId: string,
    private readonly routers: RoomRouters,
    private readonly config: Config['recording'],
    private readonly logger: Logger,
    /** Tells everyone in the room (recordingChanged). */
    private readonly announce: (recording: RecordingState | null) => void,
  ) {}

  get state(): RecordingState | null {
    return this.#state;
  }

  /** The folder of the recording under way (or the last one). */
  get folder(): string {
    return this.#folder;
  }

  /** A host or co-host starts recording every current producer (and every later one). */
  async start(by: Peer, producers: Iterable<{ peer: Peer; producer: PeerProducer }>): Promise<RecordingState> {
    if (!isModerator(by.role)) throw new SignalingError('FORBIDDEN', 'only hosts and co-hosts start a recording');
    if (this.#state) throw new SignalingError('RECORDING_STATE', 'the room is already being recorded');
    if (!ffmpegAvailable(this.config.ffmpeg)) throw new SignalingError('RECORDING_UNAVAILABLE', 'this server cannot record (ffmpeg is not installed)');
    const startedAt = Date.now();
    const folder = path.join(this.config.dir, safeFilePart(this.roomId), new Date(startedAt).toISOString().replace(/[:.]/g, '-'));
    let freeMb: number;
    try {
      mkdirSync(folder, { recursive: true, mode: 0o750 });
      const disk = statfsSync(folder);
      freeMb = Math.floor((disk.bavail * disk.bsize) / (1024 * 1024));
    } catch (error) {
      throw new SignalingError('RECORDING_UNAVAILABLE', `the recordings folder cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (freeMb < this.config.minFreeMb) {
      throw new SignalingError('RECORDING_NO_SPACE', `not enough free disk space to record: ${freeMb} MB free, ${this.config.minFreeMb} MB needed`);
    }
    this.#folder = folder;
    this.#startedAt = startedAt;
    this.#manifest.length = 0;
    this.#state = { startedAt, byName: by.displayName };
    this.logger.info({ folder, by: by.id }, 'recording started');
    this.announce(this.#state);
    for (const { peer, producer } of producers) this.track(peer, producer);
    return this.#state;
  }

  /** A producer to record, if a recording runs: now, and its file ends when the producer closes. */
  track(peer: Peer, producer: PeerProducer): void {
    if (!this.#state || this.#tracks.has(producer.id) || producer.closed) return;
    const { format, extension } = containerFor(producer.rtpParameters.codecs[0]?.mimeType ?? '');
    const file = `${String(this.#manifest.length + 1).padStart(2, '0')}-${safeFilePart(peer.displayName)}-${producer.appData.source}.${extension}`;
    const entry: ManifestTrack = {
      file,
      peerId: peer.id,
      displayName: peer.displayName,
      source: producer.appData.source,
      kind: producer.kind,
      mimeType: producer.rtpParameters.codecs[0]?.mimeType ?? '',
      startMs: Date.now() - this.#startedAt,
      endMs: null,
    };
    this.#manifest.push(entry);
    const recorder = (async () => {
      await this.routers.ensureProducerOn(producer.id, peer.router, this.routers.main);
      return TrackRecorder.start(this.routers.main, producer.id, { ffmpeg: this.config.ffmpeg, file: path.join(this.#folder, file), format, logger: this.logger });
    })().catch((error: unknown) => {
      this.logger.warn({ err: error, producerId: producer.id }, 'cannot record a track');
      return undefined;
    });
    this.#tracks.set(producer.id, { recorder, entry });
    producer.observer.once('close', () => void this.#endTrack(producer.id));
    this.#writeManifest();
  }

  /** Stops every track and finishes their files; resolves with the number of tracks recorded. */
  async stop(): Promise<number> {
    if (!this.#state) throw new SignalingError('RECORDING_STATE', 'the room is not being recorded');
    this.#state = null;
    await Promise.all([...this.#tracks.keys()].map((id) => this.#endTrack(id)));
    this.#writeManifest();
    this.logger.info({ folder: this.#folder, tracks: this.#manifest.length }, 'recording stopped');
    this.announce(null);
    return this.#manifest.length;
  }

  /** The room closes: a recording under way ends with it. */
  close(): void {
    if (this.#state) void this.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'cannot finish the recording'));
  }

  /** The running track recorders (tests reach ffmpeg through them). */
  async recorders(): Promise<TrackRecorder[]> {
    const all = await Promise.all([...this.#tracks.values()].map((t) => t.recorder));
    return all.filter((r): r is TrackRecorder => r !== undefined);
  }

  async #endTrack(producerId: string): Promise<void> {
    const track = this.#tracks.get(producerId);
    if (!track) return;
    this.#tracks.delete(producerId);
    track.entry.endMs = Date.now() - this.#startedAt;
    await (await track.recorder)?.stop();
    this.#writeManifest();
  }

  #writeManifest(): void {
    try {
      writeFileSync(path.join(this.#folder, 'manifest.json'), JSON.stringify({ roomId: this.roomId, startedAt: this.#startedAt, tracks: this.#manifest }, null, 2));
    } catch (error) {
      this.logger.warn({ err: error }, 'cannot write the recording manifest');
    }
  }
}
