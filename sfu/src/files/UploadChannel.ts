import type { types } from 'mediasoup';
import { type FileChunk, FileChunkError, decodeFileChunk } from '../../../shared/index.ts';
import type { Peer } from '../rooms/Peer.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import type { SharedFile } from './SharedFile.ts';

/** SCTP payload protocol id of a binary WebRTC data-channel message (RFC 8831). */
const PPID_BINARY = 53;

/** What an upload channel asks of the room's files. */
export interface UploadRoutes {
  file(fileId: string): SharedFile | undefined;
  /** Whether this peer shared that file and it has since ended: its chunks still in flight are dropped quietly. */
  ended(peer: Peer, fileId: string): boolean;
  /** A chunk was refused; `reason` says why. */
  rejected(peer: Peer, reason: string): void;
}

/**
 * One peer's upload path: the DataProducer the server made for its browser's data channel, and the
 * DataConsumer on the room's DirectTransport through which each message reaches this process. Every
 * chunk is checked here before a byte of it is stored: it names a file this very peer offered, and
 * that file accepts it (uploading, contiguous, within the declared size). Anything else is refused.
 */
export class UploadChannel extends TypedEmitter<{ close: [] }> {
  #closed = false;

  constructor(
    readonly peer: Peer,
    readonly producer: types.DataProducer,
    private readonly consumer: types.DataConsumer,
    private readonly routes: UploadRoutes,
  ) {
    super();
    consumer.on('message', (message, ppid) => {
      const problem = this.#deliver(message, ppid);
      if (problem !== undefined) routes.rejected(peer, problem);
    });
    // The browser's channel or transport went away (left, reconnected on a new transport, worker died).
    consumer.observer.once('close', () => this.close());
    producer.observer.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes both ends. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.consumer.close();
    this.producer.close();
    this.emit('close');
  }

  /** Stores the chunk, or says what is wrong with it. */
  #deliver(message: Buffer, ppid: number): string | undefined {
    if (ppid !== PPID_BINARY) return `a message with payload protocol ${ppid} is not a binary chunk`;
    let chunk: FileChunk;
    try {
      chunk = decodeFileChunk(message);
    } catch (error) {
      if (error instanceof FileChunkError) return error.message;
      throw error;
    }
    const file = this.routes.file(chunk.fileId);
    if (!file) return this.routes.ended(this.peer, chunk.fileId) ? undefined : `no file ${chunk.fileId} in this room`;
    // Whoever else's file it names, and whatever its state, this peer may not write to it.
    if (file.peerId !== this.peer.id) return `file ${chunk.fileId} was shared by someone else`;
    return file.append(chunk.offset, chunk.payload);
  }
}
