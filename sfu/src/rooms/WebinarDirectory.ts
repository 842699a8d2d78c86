import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../../config/index.ts';
import type { Role, WebinarKeys } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { RoomStore, type StoredRoom } from '../store/RoomStore.ts';

const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const ID_LENGTH = 16;
/** The shape of every webinar id; meeting ids never have it (the client's have dashes every 4). */
const WEBINAR_ID = new RegExp(`^w-[${ID_ALPHABET}]{${ID_LENGTH}}$`);
const HOUR_MS = 60 * 60 * 1000;
/** Stored webinars at most; a few hundred bytes each. Creation is also rate-limited per address. */
const MAX_WEBINARS = 100_000;
/** How often expired webinars are deleted (reads check expiry themselves; this only frees the disk). */
const SWEEP_INTERVAL_MS = HOUR_MS;
/** A join refreshes a webinar's last-active time at most this often, so a join storm costs no writes. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * What is stored instead of a link key. Keys are 144 random bits (randomBytes(18)). A slow password
 * hash (scrypt, argon2) exists to make guessing a low-entropy secret from its leaked hash expensive;
 * nobody can enumerate 2^144 candidates however fast each guess is, so one SHA-256 is as safe here,
 * and it costs a microsecond per join instead of tens of milliseconds of CPU.
 */
function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function matches(hash: Buffer, stored: Buffer | null): boolean {
  return stored !== null && stored.length === hash.length && timingSafeEqual(hash, stored);
}

export interface WebinarDirectoryOptions {
  /** A webinar nobody has joined for this long is gone. */
  idleExpiryMs: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * Webinars by id, with their two secret link keys: the host link's and the audience link's. Kept
 * apart from rooms because a room closes when empty while its links must keep working.
 *
 * Backed by the RoomStore, so links survive a restart; it holds only the keys' hashes. The plain keys
 * are kept in memory by the process that made them, for `keys()` (the host's join reply shows both
 * links). After a restart `keys()` has nothing to give: the host's client must keep its own copy.
 */
export class WebinarDirectory {
  readonly #store: RoomStore;
  /** Plain keys of the webinars this process created, while they are stored. */
  readonly #issued = new Map<string, WebinarKeys>();
  readonly #idleExpiryMs: number;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #sweepTimer: NodeJS.Timeout;

  /** Opens (creating on first start) the store in `store.dataDir`; throws StoreError naming the key. */
  static open(config: Config, logger: Logger): WebinarDirectory {
    return new WebinarDirectory(RoomStore.open(config.store.dataDir), { idleExpiryMs: config.rooms.idleExpiryHours * HOUR_MS, logger });
  }

  constructor(store: RoomStore, options: WebinarDirectoryOptions) {
    this.#store = store;
    this.#idleExpiryMs = options.idleExpiryMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#sweep();
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.min(SWEEP_INTERVAL_MS, Math.max(1_000, this.#idleExpiryMs)));
    this.#sweepTimer.unref();
  }

  create(): WebinarKeys {
    if (this.#store.count() >= MAX_WEBINARS) throw new SignalingError('RATE_LIMITED', 'too many webinars on this server');
    let roomId: string;
    do {
      roomId = 'w-' + Array.from({ length: ID_LENGTH }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
    } while (this.#store.has(roomId));
    const keys: WebinarKeys = {
      roomId,
      hostKey: randomBytes(18).toString('base64url'),
      audienceKey: randomBytes(18).toString('base64url'),
    };
    const now = this.#now();
    this.#store.insert({
      id: roomId,
      kind: 'webinar',
      hostKeyHash: hashKey(keys.hostKey),
      audienceKeyHash: hashKey(keys.audienceKey),
      createdAt: now,
      lastActiveAt: now,
      lobby: false,
      locked: false,
    });
    this.#issued.set(roomId, keys);
    return keys;
  }

  /**
   * Whether the id is a webinar's, live, expired or unknown. An expired (or pre-store) webinar link
   * must be refused with INVALID_LINK, not open an unmoderated meeting in which its audience publishes.
   */
  isWebinar(roomId: string): boolean {
    return WEBINAR_ID.test(roomId) || this.#live(roomId) !== undefined;
  }

  /** Both plain keys, only in the process that created the webinar (the store has hashes only). */
  keys(roomId: string): WebinarKeys | undefined {
    const keys = this.#issued.get(roomId);
    return keys && this.#live(roomId) ? { ...keys } : undefined;
  }

  /** The role a link key grants in this webinar; INVALID_LINK for anything else. A valid key is activity. */
  roleFor(roomId: string, key: string | undefined): Extract<Role, 'host' | 'viewer'> {
    const webinar = this.#live(roomId);
    if (webinar && key) {
      const hash = hashKey(key);
      const role = matches(hash, webinar.hostKeyHash) ? 'host' : matches(hash, webinar.audienceKeyHash) ? 'viewer' : undefined;
      if (role) {
        const now = this.#now();
        this.#store.touch(roomId, now, now - TOUCH_INTERVAL_MS);
        return role;
      }
    }
    throw new SignalingError('INVALID_LINK', 'this webinar link is not valid (or has expired)');
  }

  /** Stops the sweep and closes the store. Idempotent. */
  close(): void {
    clearInterval(this.#sweepTimer);
    this.#issued.clear();
    this.#store.close();
  }

  #live(roomId: string): StoredRoom | undefined {
    const room = this.#store.get(roomId);
    return room?.kind === 'webinar' && room.lastActiveAt > this.#now() - this.#idleExpiryMs ? room : undefined;
  }

  #sweep(): void {
    if (this.#store.closed) return;
    try {
      const expired = this.#store.deleteIdleSince(this.#now() - this.#idleExpiryMs);
      for (const id of expired) this.#issued.delete(id);
      if (expired.length > 0) this.#logger?.info({ expired: expired.length }, 'idle webinars expired');
    } catch (error) {
      // The next sweep tries again; reads check expiry on their own, so nothing expired is let in.
      this.#logger?.error({ err: error }, 'cannot delete expired webinars from the room store');
    }
  }
}
