import type { types } from 'mediasoup-client';
import { FILE_CHUNK_PAYLOAD_BYTES, encodeFileChunk } from '../../../../shared/index.ts';

/**
 * The browser queues what a data channel has not sent yet; past 16 MiB Chromium closes the channel.
 * Sending stops while HIGH_WATER is queued and goes on at LOW_WATER ('bufferedamountlow'), so the
 * upload runs at the path's pace with a little in reserve, and memory stays flat for any file size.
 */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Read from disk this much at a time, then cut into chunks. */
const READ_BYTES = 1024 * 1024;

export class UploadCancelled extends Error {
  override name = 'UploadCancelled';
}

/**
 * One file going up on the upload channel, in 16 KiB chunks that each name the file and their offset
 * (shared/file-chunks.ts). `sent` counts what the channel has taken; the server reports what it has
 * stored (`fileProgress`), which is what the sender's progress bar shows.
 */
export class Upload {
  #sent = 0;
  #cancelled = false;
  #wake: (() => void) | undefined;

  constructor(
    readonly fileId: string,
    private readonly file: Blob,
    private readonly channel: types.DataProducer,
  ) {}

  get sent(): number {
    return this.#sent;
  }

  /** Resolves when every byte is in the channel; rejects when cancelled or when the channel closes. */
  async run(): Promise<void> {
    const channel = this.channel;
    channel.bufferedAmountLowThreshold = LOW_WATER;
    const wake = () => this.#wakeUp();
    channel.on('bufferedamountlow', wake);
    channel.observer.on('close', wake);
    try {
      while (this.#sent < this.file.size) {
        const block = new Uint8Array(await this.file.slice(this.#sent, this.#sent + READ_BYTES).arrayBuffer());
        for (let at = 0; at < block.byteLength; at += FILE_CHUNK_PAYLOAD_BYTES) {
          while (channel.bufferedAmount > HIGH_WATER && !this.#stopped()) await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#check();
          const payload = block.subarray(at, Math.min(at + FILE_CHUNK_PAYLOAD_BYTES, block.byteLength));
          channel.send(encodeFileChunk(this.fileId, this.#sent + at, payload));
        }
        this.#sent += block.byteLength;
      }
    } finally {
      channel.off('bufferedamountlow', wake);
      channel.observer.off('close', wake);
    }
  }

  /** Stops sending; chunks already in the channel still arrive, and the server drops them. */
  cancel(): void {
    this.#cancelled = true;
    this.#wakeUp();
  }

  #stopped(): boolean {
    return this.#cancelled || this.channel.closed;
  }

  #check(): void {
    if (this.#cancelled) throw new UploadCancelled('cancelled');
    if (this.channel.closed) throw new Error('the upload channel closed');
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
