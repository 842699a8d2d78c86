/**
 * Download links for recording files. A host asks for the list (authorised by their role, or by the
 * host key over HTTP) and gets links that work for a while on their own, so a browser can fetch a file
 * with a plain GET, without the host key in any URL or log. A link names the room, the recording and
 * the file, and carries an expiry and an HMAC of all four under a server secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_TTL_MS = 60 * 60 * 1000;
export const RECORDINGS_PATH = '/recordings';
/** A track or composite file name as the recorder makes them: never a path, never hidden. */
export const RECORDING_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/;

export interface LinkTarget {
  roomPart: string;
  recordingId: string;
  file: string;
}

export class DownloadLinks {
  readonly #secret: Buffer;

  constructor(
    secret: string | undefined,
    private readonly baseUrl = '',
    private readonly now: () => number = Date.now,
  ) {
    // Without a configured secret, links die with the process: they are short-lived anyway.
    this.#secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  #signature(target: LinkTarget, expires: number): Buffer {
    return createHmac('sha256', this.#secret).update(`${target.roomPart}/${target.recordingId}/${target.file}/${expires}`).digest();
  }

  url(target: LinkTarget): string {
    const expires = this.now() + LINK_TTL_MS;
    const sig = this.#signature(target, expires).toString('base64url');
    const pathPart = [target.roomPart, target.recordingId, target.file].map(encodeURIComponent).join('/');
    return `${this.baseUrl}${RECORDINGS_PATH}/${pathPart}?expires=${expires}&sig=${sig}`;
  }

  /** The file a request path names, if its signature holds and it has not expired. */
  verify(pathname: string, search: URLSearchParams): LinkTarget | 'expired' | undefined {
    const parts = pathname.slice(RECORDINGS_PATH.length + 1).split('/');
    if (parts.length !== 3) return undefined;
    let decoded: string[];
    try {
      decoded = parts.map(decodeURIComponent);
    } catch {
      return undefined;
    }
    const [roomPart, recordingId, file] = decoded as [string, string, string];
    if (!/^[A-Za-z0-9-]{1,64}$/.test(roomPart) || !/^[0-9TZ-]{10,40}$/.test(recordingId) || !RECORDING_FILE.test(file)) return undefined;
    const expires = Number(search.get('expires'));
    const given = Buffer.from(search.get('sig') ?? '', 'base64url');
    const target = { roomPart, recordingId, file };
    const expected = this.#signature(target, expires);
    if (!Number.isSafeInteger(expires) || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return expires < this.now() ? 'expired' : target;
  }
}
