import type { SharedFileInfo } from '../../../../shared/index.ts';

/** Received chunks are folded into a Blob every this many bytes: the browser may keep Blobs on disk, not in the JS heap. */
const FOLD_BYTES = 4 * 1024 * 1024;

export class DownloadDamaged extends Error {
  override name = 'DownloadDamaged';
}

/**
 * One file coming down the download channel. Chunks must continue the file exactly; anything else
 * (a repeat after a fetch from an offset, or a gap) is not taken. The finished file is checked against
 * the size and the SHA-256 the server announced, and only then handed out, typed as plain bytes
 * whatever the sender claimed: it is saved, never shown.
 */
export class Download {
  readonly #blobs: Blob[] = [];
  #parts: Uint8Array<ArrayBuffer>[] = [];
  #partBytes = 0;
  #received = 0;
  /** A fetch from `received` was asked for after a gap; cleared when the next expected chunk comes. */
  refetching = false;

  constructor(readonly info: SharedFileInfo) {}

  get received(): number {
    return this.#received;
  }

  get complete(): boolean {
    return this.#received === this.info.size;
  }

  /** Takes the chunk if it is the next one: 'taken', 'old' (already have it) or 'gap' (something is missing). */
  accept(offset: number, payload: Uint8Array<ArrayBuffer>): 'taken' | 'old' | 'gap' {
    if (offset < this.#received) return 'old';
    if (offset > this.#received) return 'gap';
    if (this.#received + payload.byteLength > this.info.size) return 'gap'; // the server never sends past the end
    this.refetching = false;
    this.#parts.push(payload);
    this.#partBytes += payload.byteLength;
    this.#received += payload.byteLength;
    if (this.#partBytes >= FOLD_BYTES) this.#fold();
    return 'taken';
  }

  /** The whole file, once its size and its SHA-256 (hex) check out; throws DownloadDamaged otherwise. */
  async verify(sha256: string): Promise<Blob> {
    this.#fold();
    const blob = new Blob(this.#blobs, { type: 'application/octet-stream' });
    if (blob.size !== this.info.size) throw new DownloadDamaged(`got ${blob.size} bytes of ${this.info.size}`);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
    const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
    if (hex !== sha256) throw new DownloadDamaged('its SHA-256 does not match the one the server announced');
    return blob;
  }

  #fold(): void {
    if (this.#parts.length === 0) return;
    this.#blobs.push(new Blob(this.#parts));
    this.#parts = [];
    this.#partBytes = 0;
  }
}
