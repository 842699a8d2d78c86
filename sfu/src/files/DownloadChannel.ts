import { type FileHandle, open } from 'node:fs/promises';
import type { types } from 'mediasoup';
import {
  FILE_CHANNEL_LABEL,
  FILE_CHUNK_PAYLOAD_BYTES,
  type FileDownloadChannel,
  encodeFileChunk,
} from '../../../shared/index.ts';
import type { Logger } from '../logger.ts';
import type { Peer } from '../rooms/Peer.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { HIGH_WATER } from './sctp-options.ts';
import type { SharedFile } from './SharedFile.ts';

/** Chunks read from disk at once. */
const READ_CHUNKS = 4;
/** While waiting for 'bufferedamountlow', the buffered amount is also asked for this often (belt and braces). */
const DRAIN_POLL_MS = 1_000;

export interface DownloadFailure {
  file: SharedFile;
  message: string;
}

type DownloadChannelEvents = {
  close: [];
  /** A file could not be sent to this receiver (it may fetch it again from where it got to). */
  failed: [failure: DownloadFailure];
};

interface Delivery {
  file: SharedFile;
  /** Next byte to send. */
  offset: number;
  handle: Promise<FileHandle> | undefined;
}

/**
 * One receiver's download path: a DataProducer on the room's DirectTransport, consumed only by this
 * receiver's DataConsumer on its own receive transport. Every file it fetches goes through here, each
 * chunk naming its file, the files taking turns. Each receiver is paced by its own association's
 * buffered amount, so a slow receiver only ever waits for itself, and a file still uploading is sent
 * as far as it is stored, then more as more arrives.
 */
export class DownloadChannel extends TypedEmitter<DownloadChannelEvents> {
  /** In turn order: the one just served moves to the end. */
  readonly #deliveries = new Map<string, Delivery>();
  /** What the receiver's association holds unacknowledged, as far as this process knows. */
  #buffered = 0;
  /**
   * Over SCTP (a browser), paced by the association's buffer. A DataConsumer on a DirectTransport (a
   * Node receiver: tests, benchmarks) gets each message in a callback and has no buffer to watch.
   */
  readonly #paced: boolean;
  /** The pump waits for a file to grow (or a fetch) here... */
  #dataWaiter: (() => void) | undefined;
  /** ...and for the receiver's buffer to drain here. */
  #drainWaiter: (() => void) | undefined;
  #pumping = false;
  #closed = false;
  /** Payload bytes sent, all files together (benchmarks, tests). */
  bytesSent = 0;

  constructor(
    readonly peer: Peer,
    private readonly producer: types.DataProducer,
    private readonly consumer: types.DataConsumer,
    private readonly logger: Logger,
  ) {
    super();
    this.#paced = consumer.type === 'sctp';
    consumer.on('bufferedamountlow', (bufferedAmount) => {
      this.#buffered = bufferedAmount;
      this.#drainWaiter = release(this.#drainWaiter);
    });
    // Pacing keeps below the buffer; if it ever overflows, a chunk was lost: the receiver fetches again.
    consumer.on('sctpsendbufferfull', () => {
      this.logger.warn({ peerId: peer.id }, 'file download overflowed the receiver\'s SCTP send buffer');
      this.#buffered = Math.max(this.#buffered, HIGH_WATER);
      for (const delivery of [...this.#deliveries.values()]) this.#fail(delivery, 'a chunk was dropped on the way; fetch the file again');
    });
    consumer.observer.once('close', () => this.close());
    producer.observer.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** What the client passes to `transport.consumeData` (a channel on a browser's WebRTC transport). */
  info(): FileDownloadChannel {
    const sctpStreamParameters = this.consumer.sctpStreamParameters;
    if (!sctpStreamParameters) throw new Error('a download channel on a DirectTransport has no browser end');
    return {
      id: this.consumer.id,
      dataProducerId: this.producer.id,
      sctpStreamParameters,
      label: FILE_CHANNEL_LABEL,
      protocol: this.consumer.protocol,
    };
  }

  /** Starts (or restarts, from `offset`) sending a file. */
  fetch(file: SharedFile, offset: number): void {
    if (this.#closed) return;
    const previous = this.#deliveries.get(file.id);
    if (previous) this.#release(previous);
    this.#deliveries.set(file.id, { file, offset, handle: undefined });
    this.wake();
  }

  /** Stops sending a file (the receiver cancelled, or the file is gone). */
  stop(fileId: string): void {
    const delivery = this.#deliveries.get(fileId);
    if (delivery) this.#release(delivery);
  }

  has(fileId: string): boolean {
    return this.#deliveries.has(fileId);
  }

  /** More of a file may be ready to send (it grew, or became available). */
  wake(): void {
    if (this.#closed) return;
    if (this.#pumping) this.#dataWaiter = release(this.#dataWaiter);
    else void this.#pump();
  }

  /** Closes both ends and every open file handle. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const delivery of [...this.#deliveries.values()]) this.#release(delivery);
    this.#dataWaiter = release(this.#dataWaiter);
    this.#drainWaiter = release(this.#drainWaiter);
    this.consumer.close();
    this.producer.close();
    this.emit('close');
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.#closed && this.#deliveries.size > 0) {
        if (this.#buffered >= HIGH_WATER) {
          await this.#drain();
          continue;
        }
        const next = [...this.#deliveries.values()].find((d) => d.offset < d.file.stored);
        if (!next) {
          await new Promise<void>((resolve) => (this.#dataWaiter = resolve)); // until a file grows or a fetch comes
          continue;
        }
        await this.#sendFrom(next);
      }
    } catch (error) {
      // Only a mediasoup failure gets here (the worker went away under us): the channel is done.
      if (!this.#closed) this.logger.error({ err: error, peerId: this.peer.id }, 'file download channel failed');
      this.close();
    } finally {
      this.#pumping = false;
    }
  }

  /** Reads the next few chunks of one file and sends them; then that file waits its turn again. */
  async #sendFrom(delivery: Delivery): Promise<void> {
    const { file } = delivery;
    const start = delivery.offset;
    const length = Math.min(file.stored - start, READ_CHUNKS * FILE_CHUNK_PAYLOAD_BYTES);
    const buffer = Buffer.allocUnsafe(length);
    let bytesRead: number;
    try {
      delivery.handle ??= open(file.path, 'r');
      ({ bytesRead } = await (await delivery.handle).read(buffer, 0, length, start));
    } catch (error) {
      if (this.#deliveries.get(file.id) === delivery) this.#fail(delivery, `the server could not read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return;
    }
    // Stopped, restarted from elsewhere, or the channel closed while the disk was read.
    if (this.#closed || this.#deliveries.get(file.id) !== delivery || delivery.offset !== start) return;
    for (let at = 0; at < bytesRead; at += FILE_CHUNK_PAYLOAD_BYTES) {
      const message = encodeFileChunk(file.id, start + at, buffer.subarray(at, Math.min(at + FILE_CHUNK_PAYLOAD_BYTES, bytesRead)));
      this.producer.send(Buffer.from(message.buffer, message.byteOffset, message.byteLength));
      if (this.#paced) this.#buffered += message.byteLength;
    }
    delivery.offset += bytesRead;
    this.bytesSent += bytesRead;
    this.#deliveries.delete(file.id);
    if (delivery.offset >= file.size) this.#closeHandle(delivery);
    else this.#deliveries.set(file.id, delivery); // to the back of the queue
  }

  /**
   * Waits until the receiver's association has room again. The worker's own count is asked for first:
   * everything sent before the question is in it, so it replaces this process's estimate.
   */
  async #drain(): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      this.#drainWaiter = resolve;
      setTimeout(resolve, DRAIN_POLL_MS).unref();
    });
    const amount = await this.consumer.getBufferedAmount();
    this.#buffered = amount;
    if (amount < HIGH_WATER) return;
    await drained;
    if (!this.#closed && this.#buffered >= HIGH_WATER) this.#buffered = await this.consumer.getBufferedAmount();
  }

  #fail(delivery: Delivery, message: string): void {
    this.#release(delivery);
    this.emit('failed', { file: delivery.file, message });
  }

  #release(delivery: Delivery): void {
    if (this.#deliveries.get(delivery.file.id) === delivery) this.#deliveries.delete(delivery.file.id);
    this.#closeHandle(delivery);
  }

  #closeHandle(delivery: Delivery): void {
    const handle = delivery.handle;
    delivery.handle = undefined;
    handle?.then(
      (opened) => opened.close(),
      () => undefined, // it never opened; the read that awaited it reported why
    ).catch((error: unknown) => this.logger.warn({ err: error }, 'cannot close a shared file'));
  }
}

/** Resolves a waiter, if any; returns what the slot holds next (nothing). */
function release(waiter: (() => void) | undefined): undefined {
  waiter?.();
  return undefined;
}
