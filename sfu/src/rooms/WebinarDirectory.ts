import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Role, WebinarKeys } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';

const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LIFETIME_MS = 24 * 60 * 60 * 1000;
const MAX_WEBINARS = 10_000;

interface Entry extends WebinarKeys {
  expiresAt: number;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Webinars by id, with their two secret link keys: the host link's and the audience link's. Kept
 * apart from rooms because a room closes when empty while its links must keep working (for a day).
 * In memory: a server restart forgets them.
 */
export class WebinarDirectory {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  create(): WebinarKeys {
    this.#sweep();
    if (this.#entries.size >= MAX_WEBINARS) throw new SignalingError('RATE_LIMITED', 'too many webinars on this server');
    let roomId: string;
    do {
      roomId = 'w-' + Array.from({ length: 16 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
    } while (this.#entries.has(roomId));
    const keys: WebinarKeys = {
      roomId,
      hostKey: randomBytes(18).toString('base64url'),
      audienceKey: randomBytes(18).toString('base64url'),
    };
    this.#entries.set(roomId, { ...keys, expiresAt: this.now() + LIFETIME_MS });
    return keys;
  }

  isWebinar(roomId: string): boolean {
    const entry = this.#entries.get(roomId);
    return entry !== undefined && entry.expiresAt > this.now();
  }

  keys(roomId: string): WebinarKeys | undefined {
    const entry = this.#entries.get(roomId);
    return entry && { roomId: entry.roomId, hostKey: entry.hostKey, audienceKey: entry.audienceKey };
  }

  /** The role a link key grants in this webinar; INVALID_LINK for anything else. */
  roleFor(roomId: string, key: string | undefined): Extract<Role, 'host' | 'viewer'> {
    const entry = this.#entries.get(roomId);
    if (entry && key && entry.expiresAt > this.now()) {
      if (sameSecret(key, entry.hostKey)) return 'host';
      if (sameSecret(key, entry.audienceKey)) return 'viewer';
    }
    throw new SignalingError('INVALID_LINK', 'this webinar link is not valid (or has expired)');
  }

  #sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
  }
}
