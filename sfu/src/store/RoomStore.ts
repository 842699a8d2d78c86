import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { FileSharingPolicy, Role, RoomKind } from '../../../shared/index.ts';
import { MIGRATIONS } from './migrations.ts';

/** One room as stored: never a plain key, only its hash. Times are milliseconds since the epoch. */
export interface StoredRoom {
  id: string;
  kind: RoomKind;
  /** SHA-256 of the link keys: webinars have both; meetings a host key, or none when opened by id. */
  hostKeyHash: Buffer | null;
  audienceKeyHash: Buffer | null;
  createdAt: number;
  lastActiveAt: number;
  /** Room settings hosts change (RoomSettings). */
  lobby: boolean;
  locked: boolean;
  /** Who may share files, as a host set it; null: the server's default (files.whoMayShare). */
  fileSharing: FileSharingPolicy | null;
}

/** The settings hosts change, as stored: file sharing only once a host has chosen. */
export interface StoredSettings {
  lobby: boolean;
  locked: boolean;
  fileSharing: FileSharingPolicy | null;
}

interface Row {
  id: string;
  kind: RoomKind;
  host_key_hash: Buffer | null;
  audience_key_hash: Buffer | null;
  created_at: number;
  last_active_at: number;
  lobby: number;
  locked: number;
  file_sharing: FileSharingPolicy | null;
}

/** Someone whose place in a room carries moderation state. Never the resume token, only its hash. */
export interface StoredMember {
  roomId: string;
  peerId: string;
  tokenHash: Buffer;
  displayName: string;
  role: Role;
  micMuted: boolean;
  removed: boolean;
  updatedAt: number;
}

interface MemberRow {
  room_id: string;
  peer_id: string;
  token_hash: Buffer;
  display_name: string;
  role: Role;
  mic_muted: number;
  removed: number;
  updated_at: number;
}

/** One room with its members, as one node hands it to another (cluster mode). */
export interface RoomSnapshot {
  room: StoredRoom;
  members: StoredMember[];
}

export const STORE_FILE = 'roundtable.db';

/** The store cannot be opened or used; names the config key, since that is what an operator fixes. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * Rooms that outlive the process (meetings and webinars with their link-key hashes and settings, and
 * the members whose moderation state must survive), in one SQLite file in
 * the data directory. WAL mode: readers never wait for the writer, and a crash never loses a
 * committed row. Synchronous: better-sqlite3 calls take microseconds, far below a signaling round trip.
 */
export class RoomStore {
  #closed = false;
  readonly #statements;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.#statements = {
      insert: db.prepare(
        `INSERT INTO rooms (id, kind, host_key_hash, audience_key_hash, created_at, last_active_at, lobby, locked, file_sharing)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare('SELECT * FROM rooms WHERE id = ?'),
      has: db.prepare('SELECT 1 FROM rooms WHERE id = ?'),
      count: db.prepare('SELECT count(*) FROM rooms').pluck(),
      touch: db.prepare('UPDATE rooms SET last_active_at = ? WHERE id = ? AND last_active_at < ?'),
      deleteIdle: db.prepare('DELETE FROM rooms WHERE last_active_at <= ? RETURNING id').pluck(),
      setSettings: db.prepare('UPDATE rooms SET lobby = ?, locked = ?, file_sharing = ? WHERE id = ?'),
      member: db.prepare('SELECT * FROM members WHERE room_id = ? AND peer_id = ?'),
      members: db.prepare('SELECT * FROM members WHERE room_id = ?'),
      saveMember: db.prepare(
        `INSERT INTO members (room_id, peer_id, token_hash, display_name, role, mic_muted, removed, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (room_id, peer_id) DO UPDATE SET token_hash = excluded.token_hash, display_name = excluded.display_name,
           role = excluded.role, mic_muted = excluded.mic_muted, removed = excluded.removed, updated_at = excluded.updated_at`,
      ),
      deleteMember: db.prepare('DELETE FROM members WHERE room_id = ? AND peer_id = ?'),
      deleteRoom: db.prepare('DELETE FROM rooms WHERE id = ?'),
    };
  }

  /** Creates the directory and the database on first use, and brings the schema up to date. */
  static open(dataDir: string): RoomStore {
    const dir = path.resolve(dataDir);
    const file = path.join(dir, STORE_FILE);
    let db: Database.Database | undefined;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      db = new Database(file);
      // Another process on the same file (a second server, a restart overlapping the old one) waits.
      db.pragma('busy_timeout = 5000');
      if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') throw new Error('cannot switch to WAL mode');
      // A link handed out must survive a power cut, not only a crash: fsync each commit (a few per minute).
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON'); // members go with their room

      migrate(db);
      return new RoomStore(db, file);
    } catch (error) {
      db?.close();
      const { code, message } = error as NodeJS.ErrnoException;
      const reason = code && !message.startsWith(code) ? `${code}: ${message}` : message; // fs messages start with theirs
      throw new StoreError(`cannot use the room store ${file}, in store.dataDir (ROUNDTABLE_DATA_DIR): ${reason}`);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  insert(room: StoredRoom): void {
    const { id, kind, hostKeyHash, audienceKeyHash, createdAt, lastActiveAt, lobby, locked, fileSharing } = room;
    // A record from a node that predates file sharing (cluster mode) has no fileSharing: the default.
    this.#statements.insert.run(id, kind, hostKeyHash, audienceKeyHash, createdAt, lastActiveAt, Number(lobby), Number(locked), fileSharing ?? null);
  }

  get(id: string): StoredRoom | undefined {
    const row = this.#statements.get.get(id) as Row | undefined;
    return row && fromRow(row);
  }

  has(id: string): boolean {
    return this.#statements.has.get(id) !== undefined;
  }

  count(): number {
    return this.#statements.count.get() as number;
  }

  /** Records activity at `at`, writing only when the stored time is older than `staleBefore`. */
  touch(id: string, at: number, staleBefore: number): void {
    this.#statements.touch.run(at, id, staleBefore);
  }

  /** Deletes the rooms last active at or before `cutoff`; returns their ids. */
  deleteIdleSince(cutoff: number): string[] {
    return this.#statements.deleteIdle.all(cutoff) as string[];
  }

  setSettings(id: string, settings: StoredSettings): void {
    this.#statements.setSettings.run(Number(settings.lobby), Number(settings.locked), settings.fileSharing, id);
  }

  member(roomId: string, peerId: string): StoredMember | undefined {
    const row = this.#statements.member.get(roomId, peerId) as MemberRow | undefined;
    return row && memberFromRow(row);
  }

  members(roomId: string): StoredMember[] {
    return (this.#statements.members.all(roomId) as MemberRow[]).map(memberFromRow);
  }

  /** Inserts or replaces the member (its room must be stored). */
  saveMember(member: StoredMember): void {
    const { roomId, peerId, tokenHash, displayName, role, micMuted, removed, updatedAt } = member;
    this.#statements.saveMember.run(roomId, peerId, tokenHash, displayName, role, Number(micMuted), Number(removed), updatedAt);
  }

  deleteMember(roomId: string, peerId: string): void {
    this.#statements.deleteMember.run(roomId, peerId);
  }

  /** The room and its members, or undefined when it is not stored. */
  snapshot(id: string): RoomSnapshot | undefined {
    const room = this.get(id);
    return room && { room, members: this.members(id) };
  }

  /** Replaces whatever is stored for the snapshot's room with it, in one transaction. */
  restore(snapshot: RoomSnapshot): void {
    this.db.transaction(() => {
      this.#statements.deleteRoom.run(snapshot.room.id); // members go with it
      this.insert(snapshot.room);
      for (const member of snapshot.members) this.saveMember(member);
    })();
  }

  /** Idempotent. Checkpoints the WAL into the main file, so a stopped server leaves one file behind. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }
}

function fromRow(row: Row): StoredRoom {
  return {
    id: row.id,
    kind: row.kind,
    hostKeyHash: row.host_key_hash,
    audienceKeyHash: row.audience_key_hash,
    createdAt: row.created_at,
    lastActiveAt: row.last_active_at,
    lobby: row.lobby !== 0,
    locked: row.locked !== 0,
    fileSharing: row.file_sharing,
  };
}

function memberFromRow(row: MemberRow): StoredMember {
  return {
    roomId: row.room_id,
    peerId: row.peer_id,
    tokenHash: row.token_hash,
    displayName: row.display_name,
    role: row.role,
    micMuted: row.mic_muted !== 0,
    removed: row.removed !== 0,
    updatedAt: row.updated_at,
  };
}

/**
 * Applies the migrations past the stored schema version, in one immediate transaction, so two
 * servers starting on one file cannot both migrate. A file from a newer Roundtable is refused.
 */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
    const stored = db.prepare('SELECT version FROM schema_version').pluck().get() as number | undefined;
    const current = stored ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`the database has schema version ${current}, newer than this server's ${MIGRATIONS.length}; upgrade Roundtable`);
    }
    for (const step of MIGRATIONS.slice(current)) db.exec(step);
    if (stored === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}
