import { createHash } from 'node:crypto';
import { type WriteStream, createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { ErrorCode, FileCancelReason, SharedFileInfo } from '../../../shared/index.ts';
import type { Logger } from '../logger.ts';
import { TypedEmitter } from '../typed-emitter.ts';

export interface UploadFailure {
  code: ErrorCode;
  message: string;
}

type SharedFileEvents = {
  /** More of the file is on disk (`stored` bytes from the start): downloads may read up to there. */
  stored: [stored: number];
  available: [sha256: string];
  close: [reason: FileCancelReason, failure: UploadFailure | undefined];
};

type State = 'uploading' | 'available' | 'closed';

/**
 * One shared file: what everyone is told about it, and its bytes on disk. The upload appends
 * contiguous chunks; they are hashed (SHA-256) as they are written, so the hash is known the moment the
 * last byte is on disk. Downloads read the file while it grows, up to `stored`.
 * The owner (RoomFiles) closes it; closing is idempotent and deletes the bytes.
 */
export class SharedFile extends TypedEmitter<SharedFileEvents> {
  readonly sharedAt = Date.now();
  readonly #hash = createHash('sha256');
  readonly #stream: WriteStream;
  readonly #idleTimer: NodeJS.Timeout;
  #state: State = 'uploading';
  /** Bytes accepted from the upload (handed to the writer). */
  #received = 0;
  /** Bytes the writer has put in the file. */
  #stored = 0;
  #sha256: string | undefined;

  constructor(
    readonly id: string,
    readonly peerId: string,
    readonly displayName: string,
    /** Already sanitised. */
    readonly name: string,
    readonly size: number,
    readonly path: string,
    idleTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    super();
    // `wx`: the id is new, so the path must be too; never follow or reuse anything already there.
    this.#stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    this.#stream.on('error', (error) => this.fail('FILE_UPLOAD_FAILED', `the server could not store the file (${(error as NodeJS.ErrnoException).code ?? error.message})`));
    this.#idleTimer = setTimeout(() => this.fail('FILE_UPLOAD_FAILED', `no data arrived for ${Math.round(idleTimeoutMs / 1000)} s`), idleTimeoutMs);
    this.#idleTimer.unref();
  }

  get uploading(): boolean {
    return this.#state === 'uploading';
  }

  get available(): boolean {
    return this.#state === 'available';
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  get received(): number {
    return this.#received;
  }

  get stored(): number {
    return this.#stored;
  }

  info(): SharedFileInfo {
    return {
      id: this.id,
      name: this.name,
      size: this.size,
      peerId: this.peerId,
      displayName: this.displayName,
      sharedAt: this.sharedAt,
      state: this.#state === 'available' ? 'available' : 'uploading',
      ...(this.#sha256 ? { sha256: this.#sha256 } : {}),
    };
  }

  /**
   * The next bytes of the upload, from a chunk the caller has checked is the sender's. Returns what is
   * wrong with it instead when it does not continue the file exactly (a gap, an overlap, past the end).
   */
  append(offset: number, payload: Uint8Array): string | undefined {
    if (this.#state !== 'uploading') return 'the upload is already complete';
    if (offset !== this.#received) return `expected offset ${this.#received}, got ${offset}`;
    if (offset + payload.byteLength > this.size) return `${offset + payload.byteLength} bytes is past the declared size of ${this.size}`;
    this.#received += payload.byteLength;
    this.#hash.update(payload);
    const length = payload.byteLength;
    // The chunk's buffer is ours: mediasoup hands each message over in a fresh Buffer.
    this.#stream.write(payload, (error) => {
      if (error || this.#state === 'closed') return; // the stream's 'error' event fails the upload
      this.#stored += length;
      this.emit('stored', this.#stored);
    });
    this.#idleTimer.refresh();
    if (this.#received === this.size) this.#finish();
    return undefined;
  }

  /** The upload failed: the sender hears `failure`, everyone else that the file is gone. */
  fail(code: ErrorCode, message: string): void {
    this.close('failed', { code, message });
  }

  /** Ends the file for everyone and deletes its bytes. Safe to call twice. */
  close(reason: FileCancelReason, failure?: UploadFailure): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#idleTimer);
    this.#stream.destroy();
    unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      // Never created (failed at open), or the room's folder went first: nothing is left either way.
      if (error.code !== 'ENOENT') this.logger.warn({ err: error, fileId: this.id }, 'cannot delete a shared file');
    });
    this.emit('close', reason, failure);
  }

  #finish(): void {
    clearTimeout(this.#idleTimer);
    this.#stream.end(() => {
      if (this.#state !== 'uploading') return;
      this.#state = 'available';
      this.#sha256 = this.#hash.digest('hex');
      this.emit('available', this.#sha256);
    });
  }
}
