import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';
import {
  type ErrorCode,
  FILE_CHANNEL_LABEL,
  type FileDownloadChannel,
  type RequestPayload,
  type RoomSettings,
  type ServerToClientEvents,
  type SharedFileInfo,
  formatBytes,
  isModerator,
} from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import { KeyedRateLimit } from '../guard/KeyedRateLimit.ts';
import type { Logger } from '../logger.ts';
import type { Peer } from '../rooms/Peer.ts';
import { DirectTransports } from './DirectTransports.ts';
import { DownloadChannel } from './DownloadChannel.ts';
import { sanitizeFileName } from './file-name.ts';
import { FileStore, fileFoldersParent } from './FileStore.ts';
import { LOW_WATER } from './sctp-options.ts';
import { SharedFile } from './SharedFile.ts';
import { UploadChannel, type UploadRoutes } from './UploadChannel.ts';

/** What the files need of their room. */
export interface FilesRoom {
  readonly peers: ReadonlyMap<string, Peer>;
  readonly moderation: { readonly settings: RoomSettings };
}

type UploadRequest = RequestPayload<'openFileUpload'>;

/** The sender hears how far its upload has got at most this often. */
const PROGRESS_INTERVAL_MS = 250;
/** Ended files remembered, so that their chunks still on the way are dropped quietly, not refused. */
const ENDED_REMEMBERED = 1_000;

/**
 * File sharing in one room. A sender uploads a file once, over its own upload channel, into the
 * room's FileStore; each receiver gets it through its own download channel, paced by its own
 * connection, and may start while the upload is still coming in. Late joiners find the room's files in
 * their join reply and fetch them the same way. Finished files stay for the room when their sender
 * leaves; uploads in progress go with their sender. Closing the room closes the channels, deletes every
 * file and the room's folder.
 */
export class RoomFiles {
  /** In the order they were shared. */
  readonly #files = new Map<string, SharedFile>();
  /** Files that ended, with their sender's peer id. */
  readonly #ended = new Map<string, string>();
  readonly #uploads = new Map<string, UploadChannel>();
  readonly #downloads = new Map<string, DownloadChannel>();
  readonly #openingDownloads = new Map<string, Promise<DownloadChannel>>();
  readonly #transports = new DirectTransports();
  readonly #store: FileStore;
  readonly #offers: KeyedRateLimit;
  readonly #routes: UploadRoutes;
  #rejectedChunks = 0;
  #closed = false;

  constructor(
    private readonly room: FilesRoom,
    private readonly config: Config['files'],
    private readonly logger: Logger,
  ) {
    this.#store = new FileStore(fileFoldersParent(config.dir), config.maxRoomBytes, logger);
    this.#offers = new KeyedRateLimit(config.offersPerMinute);
    this.#routes = {
      file: (fileId) => this.#files.get(fileId),
      ended: (peer, fileId) => this.#ended.get(fileId) === peer.id,
      rejected: (peer, reason) => this.#rejected(peer, reason),
    };
  }

  /** For tests and operators: what the room holds, where, and how many chunks it has refused. */
  stats(): { files: number; reservedBytes: number; rejectedChunks: number; dir: string | undefined } {
    return { files: this.#files.size, reservedBytes: this.#store.reserved, rejectedChunks: this.#rejectedChunks, dir: this.#store.dir };
  }

  list(): SharedFileInfo[] {
    return [...this.#files.values()].map((file) => file.info());
  }

  /** The payload bytes sent to one receiver so far (benchmarks). */
  bytesSentTo(peerId: string): number {
    return this.#downloads.get(peerId)?.bytesSent ?? 0;
  }

  /**
   * A file offered for sharing: checked against who may share, the size limit, the sender's rate and
   * the room's storage, then announced. Its bytes follow on the sender's upload channel.
   */
  offer(peer: Peer, claimedName: string, size: number): SharedFileInfo {
    this.#authorizeSharing(peer);
    const name = sanitizeFileName(claimedName);
    const { maxFileBytes, maxFilesPerRoom, offersPerMinute } = this.config;
    if (size > maxFileBytes) {
      throw new SignalingError('FILE_TOO_LARGE', `"${name}" is ${formatBytes(size)}; files of at most ${formatBytes(maxFileBytes)} can be shared here`);
    }
    if (!this.#offers.available(peer.id)) throw new SignalingError('RATE_LIMITED', `at most ${offersPerMinute} files a minute; try again shortly`);
    if (this.#files.size >= maxFilesPerRoom) {
      throw new SignalingError('FILES_STORAGE_FULL', `this meeting already holds ${maxFilesPerRoom} files, the most it can; remove one first`);
    }
    if (!this.#store.reserve(size)) {
      const left = Math.max(0, this.#store.capacity - this.#store.reserved);
      throw new SignalingError('FILES_STORAGE_FULL', `this meeting's files are limited to ${formatBytes(this.#store.capacity)} and only ${formatBytes(left)} is left`);
    }
    const id = randomUUID();
    let file: SharedFile;
    try {
      file = new SharedFile(id, peer.id, peer.displayName, name, size, this.#store.pathFor(id), this.config.uploadIdleTimeoutMs, this.logger);
    } catch (error) {
      this.#store.release(size);
      this.logger.error({ err: error }, 'cannot make a folder for shared files');
      throw new SignalingError('FILE_UPLOAD_FAILED', 'the server cannot store files right now');
    }
    this.#offers.take(peer.id);
    this.#track(file);
    this.#notify(peer, 'fileOffered', { file: file.info() });
    this.logger.info({ fileId: id, peerId: peer.id, size }, 'file offered');
    return file.info();
  }

  /** Its sender stops (or takes back) a file; a host or co-host may remove anyone's. */
  cancel(peer: Peer, fileId: string): void {
    const file = this.#files.get(fileId);
    if (!file) throw new SignalingError('FILE_NOT_FOUND', 'no such file in this room');
    if (file.peerId === peer.id) file.close('cancelled');
    else if (isModerator(peer.role)) file.close('removed');
    else throw new SignalingError('FORBIDDEN', 'only the person who shared a file, or a host, can remove it');
  }

  /** Makes the DataProducer for the sender's data channel on its send transport, and starts listening to it. */
  async openUpload(peer: Peer, request: UploadRequest): Promise<string> {
    this.#checkEnabled();
    if (!peer.onStage) throw new SignalingError('FORBIDDEN', 'viewers cannot share files');
    const transport = peer.ownTransport(request.transportId);
    if (transport.appData.direction !== 'send') throw new SignalingError('WRONG_TRANSPORT_DIRECTION', 'the upload channel goes on the send transport');
    let producer: types.DataProducer;
    try {
      producer = await transport.produceData({
        sctpStreamParameters: request.sctpStreamParameters,
        label: request.label,
        protocol: request.protocol,
        appData: { peerId: peer.id, files: 'upload' },
      });
    } catch (error) {
      throw new SignalingError('INVALID_PAYLOAD', `cannot open the upload channel: ${(error as Error).message}`);
    }
    await this.attachUpload(peer, producer);
    return producer.id;
  }

  /**
   * Listens to a peer's upload DataProducer (on its router) through the room's DirectTransport there.
   * `openUpload` calls it with the browser's channel; tests call it with a DirectTransport's
   * DataProducer, since Node has no WebRTC data channels. A new channel replaces the peer's old one.
   */
  async attachUpload(peer: Peer, producer: types.DataProducer): Promise<void> {
    let consumer: types.DataConsumer;
    try {
      consumer = await (await this.#transports.on(peer.router)).consumeData({ dataProducerId: producer.id });
    } catch (error) {
      producer.close();
      throw error;
    }
    if (this.#closed || peer.closed || producer.closed) {
      consumer.close();
      producer.close();
      throw new SignalingError('NOT_JOINED', 'left the room');
    }
    this.#uploads.get(peer.id)?.close(); // its uploads in progress fail: they cannot continue on another channel
    const channel = new UploadChannel(peer, producer, consumer, this.#routes);
    this.#uploads.set(peer.id, channel);
    channel.once('close', () => {
      if (this.#uploads.get(peer.id) === channel) this.#uploads.delete(peer.id);
      this.#failUploadsOf(peer, 'FILE_UPLOAD_FAILED', 'the upload channel closed');
    });
  }

  /** The receiver's download channel, on its receive transport; the same one again while it is open. */
  async openDownload(peer: Peer): Promise<FileDownloadChannel> {
    this.#checkEnabled();
    const transport = peer.transportFor('recv');
    if (!transport) throw new SignalingError('NOT_READY', 'create a receive transport first');
    return (await this.attachDownload(peer, transport)).info();
  }

  /**
   * A download channel for the peer whose consuming end is on `transport`: its receive transport for
   * `openDownload`; tests pass a DirectTransport and read the chunks in Node.
   */
  attachDownload(peer: Peer, transport: types.Transport): Promise<DownloadChannel> {
    const open = this.#downloads.get(peer.id);
    if (open) return Promise.resolve(open);
    let pending = this.#openingDownloads.get(peer.id);
    if (!pending) {
      pending = this.#makeDownload(peer, transport).finally(() => this.#openingDownloads.delete(peer.id));
      this.#openingDownloads.set(peer.id, pending);
    }
    return pending;
  }

  /** Sends the file on the peer's download channel, from `offset`. */
  fetch(peer: Peer, fileId: string, offset = 0): void {
    const file = this.#files.get(fileId);
    if (!file) throw new SignalingError('FILE_NOT_FOUND', 'no such file in this room (it may have been removed)');
    if (offset > file.size) throw new SignalingError('INVALID_PAYLOAD', `offset ${offset} is past the end of the file (${file.size} bytes)`);
    const channel = this.#downloads.get(peer.id);
    if (!channel) throw new SignalingError('NOT_READY', 'open the file download channel first');
    if (offset < file.size) channel.fetch(file, offset);
  }

  /** The receiver stops its own download; a file that has gone meanwhile is not an error. */
  stopDownload(peer: Peer, fileId: string): void {
    this.#downloads.get(peer.id)?.stop(fileId);
  }

  /** Its uploads in progress are cancelled for everyone; its finished files stay. */
  peerLeft(peer: Peer): void {
    for (const file of [...this.#files.values()]) if (file.peerId === peer.id && file.uploading) file.close('sender-left');
    this.#uploads.get(peer.id)?.close();
    this.#downloads.get(peer.id)?.close();
  }

  /** Closes every channel and file, and deletes the room's folder. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of [...this.#uploads.values()]) channel.close();
    for (const channel of [...this.#downloads.values()]) channel.close();
    for (const file of [...this.#files.values()]) file.close('cancelled');
    this.#transports.close();
    this.#store.close();
  }

  async #makeDownload(peer: Peer, transport: types.Transport): Promise<DownloadChannel> {
    this.#checkEnabled();
    const direct = await this.#transports.on(peer.router);
    const producer = await direct.produceData({ label: FILE_CHANNEL_LABEL, appData: { peerId: peer.id, files: 'download' } });
    let consumer: types.DataConsumer | undefined;
    try {
      // Reliable and ordered, as a DataConsumer of a direct DataProducer is by default.
      consumer = await transport.consumeData({ dataProducerId: producer.id, appData: { peerId: peer.id, files: 'download' } });
      if (consumer.type === 'sctp') await consumer.setBufferedAmountLowThreshold(LOW_WATER);
    } catch (error) {
      consumer?.close();
      producer.close();
      throw error;
    }
    if (this.#closed || peer.closed) {
      consumer.close();
      producer.close();
      throw new SignalingError('NOT_JOINED', 'left the room');
    }
    const channel = new DownloadChannel(peer, producer, consumer, this.logger);
    this.#downloads.set(peer.id, channel);
    channel.on('failed', ({ file, message }) =>
      peer.notify('fileFailed', { fileId: file.id, direction: 'download', code: 'FILE_DOWNLOAD_FAILED', message }),
    );
    channel.once('close', () => {
      if (this.#downloads.get(peer.id) === channel) this.#downloads.delete(peer.id);
    });
    return channel;
  }

  #track(file: SharedFile): void {
    this.#files.set(file.id, file);
    let progressAt = 0;
    file.on('stored', (stored) => {
      for (const channel of this.#downloads.values()) if (channel.has(file.id)) channel.wake();
      const now = Date.now();
      if (now - progressAt < PROGRESS_INTERVAL_MS) return;
      progressAt = now;
      this.room.peers.get(file.peerId)?.notify('fileProgress', { fileId: file.id, stored });
    });
    file.once('available', (sha256) => {
      this.logger.info({ fileId: file.id, size: file.size }, 'file uploaded');
      this.#notify(undefined, 'fileAvailable', { fileId: file.id, sha256 });
    });
    file.once('close', (reason, failure) => {
      this.#files.delete(file.id);
      this.#ended.set(file.id, file.peerId);
      if (this.#ended.size > ENDED_REMEMBERED) this.#ended.delete(this.#ended.keys().next().value!);
      this.#store.release(file.size);
      for (const channel of this.#downloads.values()) channel.stop(file.id);
      if (this.#closed) return; // the room is gone, and everyone with it
      this.logger.info({ fileId: file.id, reason, failure }, 'file removed');
      this.#notify(undefined, 'fileCancelled', { fileId: file.id, reason });
      if (failure) this.room.peers.get(file.peerId)?.notify('fileFailed', { fileId: file.id, direction: 'upload', ...failure });
    });
  }

  /** A refused chunk: the sender's upload stream can no longer be trusted, so its uploads in progress fail. */
  #rejected(peer: Peer, reason: string): void {
    this.#rejectedChunks++;
    const failed = this.#failUploadsOf(peer, 'FILE_CHUNK_REJECTED', `a chunk was refused: ${reason}`);
    // One line per upload failed; chunks refused after that (a flood) only at debug level.
    if (failed > 0) this.logger.warn({ peerId: peer.id, reason, failed }, 'file chunk refused; failing the sender\'s uploads');
    else this.logger.debug({ peerId: peer.id, reason }, 'file chunk refused');
  }

  #failUploadsOf(peer: Peer, code: ErrorCode, message: string): number {
    let failed = 0;
    for (const file of [...this.#files.values()]) {
      if (file.peerId !== peer.id || !file.uploading) continue;
      file.fail(code, message);
      failed++;
    }
    return failed;
  }

  #checkEnabled(): void {
    if (!this.config.enabled) throw new SignalingError('FILE_SHARING_DISABLED', 'file sharing is switched off on this server');
  }

  /** In a meeting everyone may share unless hosts said only hosts; in a webinar, only the stage. */
  #authorizeSharing(peer: Peer): void {
    this.#checkEnabled();
    if (!peer.onStage) throw new SignalingError('FORBIDDEN', 'viewers cannot share files');
    if (this.room.moderation.settings.fileSharing === 'hosts' && !isModerator(peer.role)) {
      throw new SignalingError('FORBIDDEN', 'only hosts and co-hosts can share files in this meeting');
    }
  }

  /** To everyone in the room but `from` (everyone when undefined), viewers included: they receive files too. */
  #notify<E extends keyof ServerToClientEvents>(from: Peer | undefined, event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    for (const peer of this.room.peers.values()) if (peer !== from) peer.notify(event, ...args);
  }
}
