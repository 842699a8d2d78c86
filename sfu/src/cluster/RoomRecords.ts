/**
 * Cluster mode, part 3: a room's stored record (link-key hashes, lock and lobby, and the members
 * whose moderation state must survive) follows the room from node to node. Each node keeps its own
 * SQLite room store, as a single node does, and the shared store holds one copy per room:
 * - the node that creates a room (hands out its links) publishes the record once;
 * - the node that holds the room's lease writes every change through, under its lease epoch, so a
 *   node that lost the room can no longer overwrite it (fencing);
 * - the node that claims a room loads the record before it serves anyone.
 * While a node owns a room, its local copy is the truth: handlers keep reading SQLite synchronously.
 * The room's chat history travels the same way (written through by its owner, loaded by the next).
 */
import type { Redis } from 'ioredis';
import type { ChatMessage } from '../../../shared/index.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import type { Logger } from '../logger.ts';
import type { Room } from '../rooms/Room.ts';
import type { RoomSnapshot, StoredMember, StoredRoom } from '../store/RoomStore.ts';
import { clusterKeys } from './keys.ts';
import type { RoomLeases } from './RoomLeases.ts';

const RECORD_FIELD = 'record';
const CHAT_FIELD = 'chat';

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
  /**
   * Write-throughs queued per room: field → how to read its latest value. The latest change wins,
   * and each room has one write in flight at a time, so writes land in order.
   */
  readonly #dirty = new Map<string, Map<string, () => string | undefined>>();
  readonly #writing = new Set<string>();
  /** Chat histories loaded with a claimed room, until its live room is made here. */
  readonly #restoredChat = new Map<string, ChatMessage[]>();
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
    const [text, chat] = await this.redis.hmget(this.#keys.state(roomId), RECORD_FIELD, CHAT_FIELD);
    if (chat) this.#restoredChat.set(roomId, JSON.parse(chat) as ChatMessage[]);
    if (!text) return;
    const snapshot = decodeSnapshot(text);
    // Served from now on: it is as active as it gets (the last owner touched it only locally).
    this.directory.importRoom({ ...snapshot, room: { ...snapshot.room, lastActiveAt: Math.max(snapshot.room.lastActiveAt, Date.now()) } });
  }

  /** A live room was made here: it gets the chat its last owner kept, and its new messages are kept. */
  attach(room: Room): void {
    const chat = this.#restoredChat.get(room.id);
    this.#restoredChat.delete(room.id);
    if (chat) room.restoreChat(chat);
    room.on('chat', (history) => {
      const copy = [...history];
      this.#queue(room.id, CHAT_FIELD, () => JSON.stringify(copy));
    });
  }

  /**
   * The room ended here (its last person left): its chat ends with it, as on a single node. Written
   * under the lease, so a node that lost the room cannot wipe its successor's chat.
   */
  async endChat(roomId: string): Promise<void> {
    this.#dirty.get(roomId)?.delete(CHAT_FIELD);
    if (this.leases.holds(roomId)) await this.leases.write(roomId, CHAT_FIELD, '[]');
  }

  close(): void {
    this.directory.off('changed', this.#onChanged);
  }

  #changed(roomId: string): void {
    this.#queue(roomId, RECORD_FIELD, () => {
      const snapshot = this.directory.exportRoom(roomId);
      return snapshot && encodeSnapshot(snapshot);
    });
  }

  #queue(roomId: string, field: string, value: () => string | undefined): void {
    if (!this.leases.holds(roomId)) return; // a room created here but served elsewhere: publishNew covers it
    const fields = this.#dirty.get(roomId) ?? new Map<string, () => string | undefined>();
    fields.set(field, value);
    this.#dirty.set(roomId, fields);
    if (!this.#writing.has(roomId)) void this.#flush(roomId);
  }

  async #flush(roomId: string): Promise<void> {
    this.#writing.add(roomId);
    try {
      for (let fields = this.#dirty.get(roomId); fields; fields = this.#dirty.get(roomId)) {
        this.#dirty.delete(roomId);
        for (const [field, read] of fields) {
          const value = read();
          // False when the lease is gone; RoomLeases then reports the room lost, and that closes it here.
          if (value !== undefined) await this.leases.write(roomId, field, value);
        }
      }
    } catch (error) {
      this.logger.warn({ err: error, roomId }, 'cannot write the room record to the cluster store; the next change tries again');
    } finally {
      this.#writing.delete(roomId);
    }
  }
}
