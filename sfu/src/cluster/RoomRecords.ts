/**
 * Cluster mode, part 3: a room's stored record (link-key hashes, lock and lobby, and the members
 * whose moderation state must survive) follows the room from node to node. Each node keeps its own
 * SQLite room store, as a single node does, and the shared store holds one copy per room:
 * - the node that creates a room (hands out its links) publishes the record once;
 * - the node that holds the room's lease writes every change through, under its lease epoch, so a
 *   node that lost the room can no longer overwrite it (fencing);
 * - the node that claims a room loads the record before it serves anyone.
 * While a node owns a room, its local copy is the truth: handlers keep reading SQLite synchronously.
 */
import type { Redis } from 'ioredis';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import type { Logger } from '../logger.ts';
import type { RoomSnapshot, StoredMember, StoredRoom } from '../store/RoomStore.ts';
import { clusterKeys } from './keys.ts';
import type { RoomLeases } from './RoomLeases.ts';

const RECORD_FIELD = 'record';

type Wire<T> = { [K in keyof T]: T[K] extends Buffer | null ? string | null : T[K] };
interface WireSnapshot {
  room: Wire<StoredRoom>;
  members: Wire<StoredMember>[];
}

const toWire = (buffer: Buffer | null): string | null => (buffer ? buffer.toString('base64') : null);
const fromWire = (text: string | null): Buffer | null => (text === null ? null : Buffer.from(text, 'base64'));

export function encodeSnapshot({ room, members }: RoomSnapshot): string {
  const wire: WireSnapshot = {
    room: { ...room, hostKeyHash: toWire(room.hostKeyHash), audienceKeyHash: toWire(room.audienceKeyHash) },
    members: members.map((m) => ({ ...m, tokenHash: toWire(m.tokenHash)! })),
  };
  return JSON.stringify(wire);
}

export function decodeSnapshot(text: string): RoomSnapshot {
  const wire = JSON.parse(text) as WireSnapshot;
  return {
    room: { ...wire.room, hostKeyHash: fromWire(wire.room.hostKeyHash), audienceKeyHash: fromWire(wire.room.audienceKeyHash) },
    members: wire.members.map((m) => ({ ...m, tokenHash: fromWire(m.tokenHash)! })),
  };
}

export class RoomRecords {
  readonly #keys: ReturnType<typeof clusterKeys>;
  /** Rooms with a write-through queued or in flight: the latest change wins, one write at a time. */
  readonly #dirty = new Set<string>();
  readonly #writing = new Set<string>();
  readonly #onChanged = (roomId: string) => this.#changed(roomId);

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly directory: RoomDirectory,
    private readonly leases: RoomLeases,
    private readonly logger: Logger,
  ) {
    this.#keys = clusterKeys(prefix);
    directory.on('changed', this.#onChanged);
  }

  /** A room created on this node: its record goes to the store before its links are handed out. */
  async publishNew(roomId: string): Promise<void> {
    const snapshot = this.directory.exportRoom(roomId);
    if (!snapshot) return;
    await this.redis.hsetnx(this.#keys.state(roomId), RECORD_FIELD, encodeSnapshot(snapshot));
  }

  /** Before serving a room it just claimed: the record as the last owner left it, if there is one. */
  async load(roomId: string): Promise<void> {
    const text = await this.redis.hget(this.#keys.state(roomId), RECORD_FIELD);
    if (text === null) return;
    const snapshot = decodeSnapshot(text);
    // Served from now on: it is as active as it gets (the last owner touched it only locally).
    this.directory.importRoom({ ...snapshot, room: { ...snapshot.room, lastActiveAt: Math.max(snapshot.room.lastActiveAt, Date.now()) } });
  }

  close(): void {
    this.directory.off('changed', this.#onChanged);
  }

  #changed(roomId: string): void {
    if (!this.leases.holds(roomId)) return; // a room created here but served elsewhere: publishNew covers it
    this.#dirty.add(roomId);
    if (!this.#writing.has(roomId)) void this.#flush(roomId);
  }

  async #flush(roomId: string): Promise<void> {
    this.#writing.add(roomId);
    try {
      while (this.#dirty.delete(roomId)) {
        const snapshot = this.directory.exportRoom(roomId);
        if (!snapshot) break;
        // False when the lease is gone; RoomLeases then reports the room lost, and that closes it here.
        await this.leases.write(roomId, RECORD_FIELD, encodeSnapshot(snapshot));
      }
    } catch (error) {
      this.logger.warn({ err: error, roomId }, 'cannot write the room record to the cluster store; the next change tries again');
    } finally {
      this.#writing.delete(roomId);
    }
  }
}
