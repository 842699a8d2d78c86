import type { types } from 'mediasoup-client';
import {
  FILE_CHANNEL_LABEL,
  type FileCancelReason,
  type FileChunk,
  FileChunkError,
  type FileLimits,
  type SharedFileInfo,
  decodeFileChunk,
  formatBytes,
} from '../../../../shared/index.ts';
import type { Publisher } from '../Publisher.ts';
import { type SignalingSocket, request } from '../signaling.ts';
import { Download, DownloadDamaged } from './Download.ts';
import { Upload, UploadCancelled } from './Upload.ts';

export type TransferStatus = 'idle' | 'sending' | 'receiving' | 'verifying' | 'done' | 'failed';

/** This client's own transfer of one file. `bytes`: stored on the server (sending) or received. */
export interface TransferUpdate {
  status: TransferStatus;
  bytes: number;
  /** Downloads that are done: the verified file. */
  blob?: Blob;
  error?: string;
}

/** What the UI hears, as plain data. */
export interface FileSharingListener {
  /** The room's files after a (re)join, in the order they were shared. */
  onFiles(files: SharedFileInfo[]): void;
  /** A file appeared, or the server's word on it changed (uploaded, hash known). */
  onFile(file: SharedFileInfo): void;
  onRemoved(fileId: string, reason: FileCancelReason): void;
  onTransfer(fileId: string, update: TransferUpdate): void;
}

/** A channel that has not opened after this long is given up on. */
const OPEN_TIMEOUT_MS = 15_000;
/** Progress is reported at most this often per file (the UI need not redraw for every 16 KiB). */
const PROGRESS_INTERVAL_MS = 100;
/** A download the server could not send is fetched again from where it stopped, this many times. */
const DOWNLOAD_RETRIES = 3;
/**
 * A download that has taken no chunk for this long is fetched again from where it stopped. A gap is
 * noticed when the next chunk comes; this covers chunks that never come. Seen once in CI: a Chromium
 * receiver got nothing of a 5 MB file for a minute while the others got all of it.
 */
const STALL_MS = 8_000;
const STALL_CHECK_MS = 2_000;

/**
 * File sharing for one session (shared/files.ts). Uploads go on one data channel on the send
 * transport, downloads come on one on the receive transport, each opened on first use; control goes
 * through signaling. Files offered while this person is in the room are fetched at once; files
 * shared before they came are fetched when they ask. A download broken by a reconnection goes on
 * from where it stopped.
 */
export class FileSharing {
  #files = new Map<string, SharedFileInfo>();
  readonly #uploads = new Map<string, Upload>();
  readonly #downloads = new Map<string, Download>();
  readonly #retries = new Map<string, number>();
  readonly #reportedAt = new Map<string, number>();
  #uploadChannel: Promise<types.DataProducer> | undefined;
  #downloadChannel: Promise<types.DataConsumer> | undefined;
  #listener: FileSharingListener | undefined;
  #limits: FileLimits = { enabled: true, maxFileBytes: Number.MAX_SAFE_INTEGER };
  #closed = false;
  /** When each download last took a chunk (or was fetched). */
  readonly #lastProgress = new Map<string, number>();
  readonly #stallTimer: ReturnType<typeof setInterval>;

  constructor(
    private readonly socket: SignalingSocket,
    private readonly publisher: Publisher,
    private readonly recvTransport: () => types.Transport | undefined,
  ) {
    const on = socket.on.bind(socket);
    on('fileOffered', ({ file }) => {
      this.#files.set(file.id, file);
      this.#listener?.onFile(file);
      void this.download(file.id); // everyone present gets it
    });
    on('fileAvailable', ({ fileId, sha256 }) => this.#available(fileId, sha256));
    on('fileProgress', ({ fileId, stored }) => {
      if (this.#uploads.has(fileId)) this.#report(fileId, { status: 'sending', bytes: stored });
    });
    on('fileCancelled', ({ fileId, reason }) => this.#removed(fileId, reason));
    on('fileFailed', ({ fileId, direction, message }) => {
      if (direction === 'upload') return this.#uploadFailed(fileId, message);
      const download = this.#downloads.get(fileId);
      if (!download) return;
      const tries = (this.#retries.get(fileId) ?? 0) + 1;
      this.#retries.set(fileId, tries);
      if (tries <= DOWNLOAD_RETRIES) void this.#fetch(download);
      else this.#downloadFailed(fileId, message);
    });
    this.#stallTimer = setInterval(() => this.#refetchStalled(), STALL_CHECK_MS);
  }

  #refetchStalled(): void {
    const now = Date.now();
    for (const fileId of this.#lastProgress.keys()) if (!this.#downloads.has(fileId)) this.#lastProgress.delete(fileId);
    for (const download of this.#downloads.values()) {
      const fileId = download.info.id;
      if (download.complete || now - (this.#lastProgress.get(fileId) ?? now) < STALL_MS) continue;
      console.warn(`file ${fileId}: nothing arrived for ${STALL_MS / 1000} s at ${download.received} bytes; fetching again from there`);
      download.refetching = true;
      void this.#fetch(download);
    }
  }

  listen(listener: FileSharingListener): void {
    this.#listener = listener;
  }

  get limits(): FileLimits {
    return this.#limits;
  }

  /**
   * After every (re)join: the room's files as the server has them. Downloads whose channel went with
   * a replaced receive transport go on from where they stopped; on a kept channel they never stopped.
   */
  roomEntered(files: SharedFileInfo[], limits: FileLimits): void {
    this.#limits = limits;
    const channelLost = this.#downloadChannel === undefined;
    const present = new Map(files.map((file) => [file.id, file]));
    for (const fileId of this.#files.keys()) if (!present.has(fileId)) this.#removed(fileId, 'cancelled');
    this.#files = present;
    this.#listener?.onFiles(files);
    for (const download of this.#downloads.values()) {
      if (download.complete) this.#finish(download);
      else if (channelLost) void this.#fetch(download);
    }
  }

  /** Offers the file and uploads it; resolves once it is all sent, rejects with the server's refusal. */
  async share(file: File): Promise<void> {
    if (!this.#limits.enabled) throw new Error('File sharing is switched off on this server.');
    if (file.size > this.#limits.maxFileBytes) {
      throw new Error(`"${file.name}" is ${formatBytes(file.size)}; files of at most ${formatBytes(this.#limits.maxFileBytes)} can be shared here.`);
    }
    if (file.size === 0) throw new Error(`"${file.name}" is empty.`);
    // The channel first: a failure to open it leaves nothing behind on the server.
    const channel = await this.#openUploadChannel();
    const { file: info } = await request(this.socket, 'offerFile', { name: file.name, size: file.size });
    this.#files.set(info.id, info);
    this.#listener?.onFile(info);
    const upload = new Upload(info.id, file, channel);
    this.#uploads.set(info.id, upload);
    this.#report(info.id, { status: 'sending', bytes: 0 }, true);
    try {
      await upload.run();
    } catch (error) {
      if (error instanceof UploadCancelled) return;
      this.#uploadFailed(info.id, (error as Error).message);
      // The server fails it too once its channel is gone; saying so frees the room's space at once.
      await request(this.socket, 'cancelFile', { fileId: info.id }).catch((cause: unknown) => console.warn('could not cancel a failed upload', cause));
    }
  }

  /** Removes a file from the room: one's own (uploading or not), or as a host anyone's. */
  async remove(fileId: string): Promise<void> {
    this.#uploads.get(fileId)?.cancel();
    await request(this.socket, 'cancelFile', { fileId });
  }

  /** Fetches a file into this browser (from where an earlier try stopped). */
  async download(fileId: string): Promise<void> {
    const info = this.#files.get(fileId);
    if (!info || this.#uploads.has(fileId) || this.#closed) return;
    let download = this.#downloads.get(fileId);
    if (download && download.complete) return;
    if (!download) {
      download = new Download(info);
      this.#downloads.set(fileId, download);
      this.#retries.delete(fileId);
    }
    this.#report(fileId, { status: 'receiving', bytes: download.received }, true);
    await this.#fetch(download);
  }

  /** Stops this browser's download; nobody else is affected, and it can be fetched again later. */
  async stopDownload(fileId: string): Promise<void> {
    if (!this.#downloads.delete(fileId)) return;
    this.#report(fileId, { status: 'idle', bytes: 0 }, true);
    await request(this.socket, 'stopFileDownload', { fileId });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#stallTimer);
    for (const upload of this.#uploads.values()) upload.cancel();
    this.#uploads.clear();
    this.#downloads.clear();
    this.#files.clear();
  }

  async #fetch(download: Download): Promise<void> {
    const fileId = download.info.id;
    this.#lastProgress.set(fileId, Date.now());
    try {
      await this.#openDownloadChannel();
      if (this.#downloads.get(fileId) !== download) return;
      await request(this.socket, 'fetchFile', { fileId, offset: download.received });
    } catch (error) {
      // Not connected just now: the next (re)join resumes it.
      console.warn(`fetching ${fileId} failed`, error);
      if (this.socket.connected && this.#downloads.get(fileId) === download) this.#downloadFailed(fileId, (error as Error).message);
    }
  }

  #onChunk(data: ArrayBuffer): void {
    let chunk: FileChunk;
    try {
      chunk = decodeFileChunk(new Uint8Array(data));
    } catch (error) {
      if (error instanceof FileChunkError) return console.warn('ignoring a malformed file chunk', error.message);
      throw error;
    }
    const download = this.#downloads.get(chunk.fileId);
    if (!download || download.complete) return;
    const outcome = download.accept(chunk.offset, chunk.payload as Uint8Array<ArrayBuffer>);
    if (outcome === 'gap' && !download.refetching) {
      // Something was lost on the way: ask again from the first missing byte.
      download.refetching = true;
      void this.#fetch(download);
      return;
    }
    if (outcome !== 'taken') return;
    this.#lastProgress.set(chunk.fileId, Date.now());
    if (download.complete) this.#finish(download);
    else this.#report(chunk.fileId, { status: 'receiving', bytes: download.received });
  }

  /** A complete download is checked once the server has said what its hash is. */
  #finish(download: Download): void {
    const fileId = download.info.id;
    const sha256 = this.#files.get(fileId)?.sha256;
    if (!download.complete || !sha256) return;
    this.#report(fileId, { status: 'verifying', bytes: download.received }, true);
    download.verify(sha256).then(
      (blob) => {
        if (this.#downloads.get(fileId) !== download) return;
        this.#downloads.delete(fileId);
        this.#report(fileId, { status: 'done', bytes: blob.size, blob }, true);
      },
      (error: unknown) => {
        if (!(error instanceof DownloadDamaged)) throw error;
        this.#downloadFailed(fileId, `The file arrived damaged (${error.message}). Download it again.`);
      },
    );
  }

  #available(fileId: string, sha256: string): void {
    const info = this.#files.get(fileId);
    if (!info) return;
    const updated: SharedFileInfo = { ...info, state: 'available', sha256 };
    this.#files.set(fileId, updated);
    this.#listener?.onFile(updated);
    if (this.#uploads.delete(fileId)) this.#report(fileId, { status: 'done', bytes: info.size }, true);
    const download = this.#downloads.get(fileId);
    if (download) this.#finish(download);
  }

  #removed(fileId: string, reason: FileCancelReason): void {
    this.#uploads.get(fileId)?.cancel();
    this.#uploads.delete(fileId);
    this.#downloads.delete(fileId);
    this.#files.delete(fileId);
    this.#listener?.onRemoved(fileId, reason);
  }

  #uploadFailed(fileId: string, message: string): void {
    const upload = this.#uploads.get(fileId);
    upload?.cancel();
    this.#uploads.delete(fileId);
    this.#report(fileId, { status: 'failed', bytes: upload?.sent ?? 0, error: message }, true);
  }

  #downloadFailed(fileId: string, message: string): void {
    const download = this.#downloads.get(fileId);
    this.#downloads.delete(fileId);
    this.#report(fileId, { status: 'failed', bytes: download?.received ?? 0, error: message }, true);
  }

  #report(fileId: string, update: TransferUpdate, always = false): void {
    const now = performance.now();
    if (!always && now - (this.#reportedAt.get(fileId) ?? -Infinity) < PROGRESS_INTERVAL_MS) return;
    this.#reportedAt.set(fileId, now);
    this.#listener?.onTransfer(fileId, update);
  }

  /** The upload channel: a data channel on the send transport (made if this person publishes nothing). */
  #openUploadChannel(): Promise<types.DataProducer> {
    this.#uploadChannel ??= (async () => {
      const transport = await this.publisher.sendTransport();
      const channel = await transport.produceData({ ordered: true, label: FILE_CHANNEL_LABEL });
      const forget = () => (this.#uploadChannel = undefined);
      channel.on('transportclose', forget);
      channel.on('close', forget);
      await opened(channel);
      return channel;
    })();
    this.#uploadChannel.catch(() => (this.#uploadChannel = undefined));
    return this.#uploadChannel;
  }

  /** The download channel: the server's DataProducer for this client, consumed on the receive transport. */
  #openDownloadChannel(): Promise<types.DataConsumer> {
    this.#downloadChannel ??= (async () => {
      const transport = this.recvTransport();
      if (!transport) throw new Error('not connected to the room yet');
      const info = await request(this.socket, 'openFileDownload', {});
      const channel = await transport.consumeData({
        id: info.id,
        dataProducerId: info.dataProducerId,
        sctpStreamParameters: info.sctpStreamParameters,
        label: info.label,
        protocol: info.protocol,
      });
      channel.binaryType = 'arraybuffer';
      channel.on('message', (data: ArrayBuffer) => this.#onChunk(data));
      const lost = () => {
        this.#downloadChannel = undefined;
        // Closed by the server (its worker died, or it overflowed): the next (re)join or fetch opens another.
        if (!this.#closed && this.socket.connected) setTimeout(() => this.#resumeDownloads(), 1_000);
      };
      channel.on('transportclose', () => (this.#downloadChannel = undefined)); // a rejoin resumes
      channel.on('close', lost);
      await opened(channel);
      return channel;
    })();
    this.#downloadChannel.catch(() => (this.#downloadChannel = undefined));
    return this.#downloadChannel;
  }

  #resumeDownloads(): void {
    if (this.#downloadChannel) return;
    for (const download of this.#downloads.values()) if (!download.complete) void this.#fetch(download);
  }
}

type ChannelEvents = { open: []; error: [Error]; close: [] };

/** Resolves when the data channel is open, so nothing is sent before the other end listens. */
function opened<E extends ChannelEvents>(channel: types.EnhancedEventEmitter<E> & { readonly readyState: RTCDataChannelState }): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      channel.off('open', onOpen);
      channel.off('error', onError);
      channel.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onOpen = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error('the file channel closed'));
    const timer = setTimeout(() => done(new Error('the file channel did not open')), OPEN_TIMEOUT_MS);
    channel.on('open', onOpen);
    channel.on('error', onError);
    channel.on('close', onClose);
  });
}
