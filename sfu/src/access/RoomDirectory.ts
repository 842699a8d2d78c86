import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../../config/index.ts';
import type { FileSharingPolicy, MeetingKeys, Role, RoomKind, WebinarKeys } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { RoomStore, type RoomSnapshot, type StoredMember, type StoredRoom, type StoredSettings } from '../store/RoomStore.ts';
import { TypedEmitter } from '../typed-emitter.ts';

const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const ID_LENGTH = 16;
/** The shape of every webinar id; meeting ids never have it (the client's have dashes every 4). */
const WEBINAR_ID = new RegExp(`^w-[${ID_ALPHABET}]{${ID_LENGTH}}$`);
const HOUR_MS = 60 * 60 * 1000;
/** Stored rooms at most; a few hundred bytes each. Creation is also rate-limited per address. */
const MAX_ROOMS = 100_000;
/** How often expired rooms are deleted (reads check expiry themselves; this only frees the disk). */
const SWEEP_INTERVAL_MS = HOUR_MS;
/** A join refreshes a room's last-active time at most this often, so a join storm costs no writes. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * What is stored instead of a link key or resume token. Keys are 144 random bits (randomBytes(18)),
 * tokens 192. A slow password hash (scrypt, argon2) exists to make guessing a low-entropy secret from
 * its leaked hash expensive; nobody can enumerate 2^144 candidates however fast each guess is, so one
 * SHA-256 is as safe here, and it costs a microsecond per join instead of tens of milliseconds of CPU.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

function matches(hash: Buffer, stored: Buffer | null): boolean {
  return stored !== null && stored.length === hash.length && timingSafeEqual(hash, stored);
}

function newKey(): string {
  return randomBytes(18).toString('base64url');
}

export interface RoomDirectoryOptions {
  /** A room nobody has joined for this long is gone, with its links and members. */
  idleExpiryMs: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * Rooms that outlive their live session: meetings and webinars with the hashes of their link keys,
 * their lock and lobby settings, and the members whose moderation state must survive (hosts, people
 * muted or removed by a host). Kept apart from live rooms because a room closes when empty while its
 * links must keep working, and backed by the RoomStore so all of it survives a restart.
 *
 * The plain keys are kept in memory by the process that made them, for the host's join reply. After a
 * restart there is nothing to give back: the host's browser keeps its own copy.
 */
export class RoomDirectory extends TypedEmitter<{ changed: [roomId: string] }> {
  readonly #store: RoomStore;
  /** Plain keys of the rooms this process created, while they are stored. */
  readonly #issued = new Map<string, WebinarKeys | MeetingKeys>();
  readonly #idleExpiryMs: number;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #sweepTimer: NodeJS.Timeout;

  /** Opens (creating on first start) the store in `store.dataDir`; throws StoreError naming the key. */
  static open(config: Config, logger: Logger): RoomDirectory {
    return new RoomDirectory(RoomStore.open(config.store.dataDir), { idleExpiryMs: config.rooms.idleExpiryHours * HOUR_MS, logger });
  }

  constructor(store: RoomStore, options: RoomDirectoryOptions) {
    super();
    this.#store = store;
    this.#idleExpiryMs = options.idleExpiryMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#sweep();
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.min(SWEEP_INTERVAL_MS, Math.max(1_000, this.#idleExpiryMs)));
    this.#sweepTimer.unref();
  }

  get now(): number {
    return this.#now();
  }

  createWebinar(): WebinarKeys {
    const roomId = this.#newId('w-');
    const keys: WebinarKeys = { roomId, hostKey: newKey(), audienceKey: newKey() };
    this.#insert(roomId, 'webinar', hashSecret(keys.hostKey), hashSecret(keys.audienceKey));
    this.#issued.set(roomId, keys);
    return keys;
  }

  /** A meeting with a host link; its id has the client's shape (four groups of four). */
  createMeeting(): MeetingKeys {
    const roomId = this.#newId('', 4);
    const keys: MeetingKeys = { roomId, hostKey: newKey() };
    this.#insert(roomId, 'meeting', hashSecret(keys.hostKey), null);
    this.#issued.set(roomId, keys);
    return keys;
  }

  /**
   * Stores a room opened without a link (a meeting joined by id on an open server, or a room named by
   * an operator's token), so its settings and hosts survive like any other. Webinars made this way get
   * key hashes nobody holds: they are entered with tokens only.
   */
  ensureStored(roomId: string, kind: RoomKind): StoredRoom {
    const existing = this.live(roomId);
    if (existing) return existing;
    this.#store.deleteIdleSince(this.#now() - this.#idleExpiryMs); // an expired row with this id goes first
    if (kind === 'webinar') this.#insert(roomId, kind, hashSecret(newKey()), hashSecret(newKey()));
    else this.#insert(roomId, kind, null, null);
    return this.live(roomId)!;
  }

  /**
   * Whether the id is a webinar's, live, expired or unknown. An expired (or pre-store) webinar link
   * must be refused with INVALID_LINK, not open an unmoderated meeting in which its audience publishes.
   */
  isWebinar(roomId: string): boolean {
    return WEBINAR_ID.test(roomId) || this.live(roomId)?.kind === 'webinar';
  }

  /** The stored room, unless it has expired. */
  live(roomId: string): StoredRoom | undefined {
    const room = this.#store.get(roomId);
    return room && room.lastActiveAt > this.#now() - this.#idleExpiryMs ? room : undefined;
  }

  /** A webinar's plain keys, only in the process that created it (the store has hashes only). */
  webinarKeys(roomId: string): WebinarKeys | undefined {
    const keys = this.#issued.get(roomId);
    return keys && 'audienceKey' in keys && this.live(roomId) ? { ...keys } : undefined;
  }

  /** A meeting's host key, only in the process that created it. */
  meetingKeys(roomId: string): MeetingKeys | undefined {
    const keys = this.#issued.get(roomId);
    return keys && !('audienceKey' in keys) && this.live(roomId) ? { ...keys } : undefined;
  }

  /**
   * The role a link key grants: a webinar's host or audience key, or a meeting's host key. Anything
   * else (a wrong key, an expired room, a meeting opened without a host link) is INVALID_LINK.
   */
  roleFor(roomId: string, key: string | undefined): Extract<Role, 'host' | 'viewer'> {
    const room = this.live(roomId);
    if (room && key) {
      const hash = hashSecret(key);
      const role = matches(hash, room.hostKeyHash) ? 'host' : matches(hash, room.audienceKeyHash) ? 'viewer' : undefined;
      if (role) {
        this.touch(roomId);
        return role;
      }
    }
    throw new SignalingError('INVALID_LINK', `this ${room?.kind ?? 'room'} link is not valid (or has expired)`);
  }

  /** Records activity (a join), writing at most once a minute per room. */
  touch(roomId: string): void {
    const now = this.#now();
    this.#store.touch(roomId, now, now - TOUCH_INTERVAL_MS);
  }

  /** Lock and lobby, and who may share files once a host has chosen (absent: the server's default). */
  settings(roomId: string): { locked: boolean; lobby: boolean; fileSharing?: FileSharingPolicy } {
    const room = this.live(roomId);
    return { locked: room?.locked ?? false, lobby: room?.lobby ?? false, ...(room?.fileSharing ? { fileSharing: room.fileSharing } : {}) };
  }

  saveSettings(roomId: string, settings: { locked: boolean; lobby: boolean; fileSharing?: FileSharingPolicy | undefined }): void {
    const stored: StoredSettings = { locked: settings.locked, lobby: settings.lobby, fileSharing: settings.fileSharing ?? null };
    this.#store.setSettings(roomId, stored);
    this.emit('changed', roomId);
  }

  /** A member with moderation state, found by peer id and checked against its resume token. */
  member(roomId: string, peerId: string, token: string): StoredMember | undefined {
    const member = this.#store.member(roomId, peerId);
    return member && matches(hashSecret(token), member.tokenHash) ? member : undefined;
  }

  members(roomId: string): StoredMember[] {
    return this.#store.members(roomId);
  }

  /** Stores (or updates) a member's moderation state; the resume token is hashed here. */
  saveMember(roomId: string, member: { peerId: string; token: string; displayName: string; role: Role; micMuted: boolean; removed: boolean }): void {
    if (!this.live(roomId)) return; // an expired room keeps nothing
    const { token, ...rest } = member;
    this.#store.saveMember({ ...rest, roomId, tokenHash: hashSecret(token), updatedAt: this.#now() });
    this.emit('changed', roomId);
  }

  /** Forgets a member that no longer carries any moderation state. */
  forgetMember(roomId: string, peerId: string): void {
    this.#store.deleteMember(roomId, peerId);
    this.emit('changed', roomId);
  }

  /** The stored room with its members (cluster mode hands it to the next node that serves it). */
  exportRoom(roomId: string): RoomSnapshot | undefined {
    return this.#store.snapshot(roomId);
  }

  /** Takes over a room as another node left it; not reported as a change. */
  importRoom(snapshot: RoomSnapshot): void {
    this.#store.restore(snapshot);
  }

  /** Stops the sweep and closes the store. Idempotent. */
  close(): void {
    clearInterval(this.#sweepTimer);
    this.#issued.clear();
    this.#store.close();
  }

  #newId(prefix: string, groups = 0): string {
    if (this.#store.count() >= MAX_ROOMS) throw new SignalingError('RATE_LIMITED', 'too many rooms stored on this server');
    const pick = (n: number) => Array.from({ length: n }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
    let roomId: string;
    do {
      roomId = groups > 0 ? Array.from({ length: groups }, () => pick(4)).join('-') : prefix + pick(ID_LENGTH);
    } while (this.#store.has(roomId));
    return roomId;
  }

  #insert(id: string, kind: RoomKind, hostKeyHash: Buffer | null, audienceKeyHash: Buffer | null): void {
    const now = this.#now();
    this.#store.insert({ id, kind, hostKeyHash, audienceKeyHash, createdAt: now, lastActiveAt: now, lobby: false, locked: false, fileSharing: null });
    this.emit('changed', id);
  }

  #sweep(): void {
    if (this.#store.closed) return;
    try {
      const expired = this.#store.deleteIdleSince(this.#now() - this.#idleExpiryMs);
      for (const id of expired) this.#issued.delete(id);
      if (expired.length > 0) this.#logger?.info({ expired: expired.length }, 'idle rooms expired');
    } catch (error) {
      // The next sweep tries again; reads check expiry on their own, so nothing expired is let in.
      this.#logger?.error({ err: error }, 'cannot delete expired rooms from the room store');
    }
  }
}
