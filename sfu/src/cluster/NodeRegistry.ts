/**
 * Cluster mode, part 1: which Roundtable nodes are alive. Each node writes its record (id, signaling
 * URL, media address, load) under a key that expires, and re-writes it every heartbeat; a node that
 * stops heartbeating (killed, frozen, cut off) drops out when its key expires, with no one having to
 * notice. A sorted set indexes the records by expiry, so listing never scans the keyspace.
 *
 * The store is Valkey or Redis (any server speaking RESP); nothing here is home-made consensus.
 */
import type { Redis } from 'ioredis';
import { clusterKeys } from './keys.ts';

export interface NodeRecord {
  id: string;
  /** Where clients reach this node's signaling (and its web app). */
  signalingUrl: string;
  /** The address browsers send media to. */
  mediaAddress: string;
  /** What placement compares: lower is less loaded (for example consumers per worker). */
  load: number;
}

export interface NodeRegistryOptions {
  /** How long a record outlives its last heartbeat. */
  ttlMs: number;
  /** How often the record is re-written; a third of the TTL or less survives two lost beats. */
  heartbeatMs: number;
  /** Read at every heartbeat, so the record carries the current load. */
  load: () => number;
  /** A heartbeat that fails (the store unreachable) is reported here and retried at the next beat. */
  onError?: (error: Error) => void;
}

export class NodeRegistry {
  readonly #redis: Redis;
  readonly #keys: ReturnType<typeof clusterKeys>;
  readonly #record: Omit<NodeRecord, 'load'>;
  readonly #options: NodeRegistryOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: Redis, prefix: string, record: Omit<NodeRecord, 'load'>, options: NodeRegistryOptions) {
    if (options.heartbeatMs * 2 > options.ttlMs) throw new Error('heartbeatMs must be at most half of ttlMs');
    this.#redis = redis;
    this.#keys = clusterKeys(prefix);
    this.#record = record;
    this.#options = options;
  }

  /** Writes the record now, then at every heartbeat until stop(). */
  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => {
      this.beat().catch((error: unknown) => this.#options.onError?.(error as Error));
    }, this.#options.heartbeatMs);
    this.#timer.unref();
  }

  /** One heartbeat: the record with its current load, and its expiry in the index. */
  async beat(): Promise<void> {
    const record: NodeRecord = { ...this.#record, load: this.#options.load() };
    const expiresAt = Date.now() + this.#options.ttlMs;
    await this.#redis
      .multi()
      .set(this.#keys.node(record.id), JSON.stringify(record), 'PX', this.#options.ttlMs)
      .zadd(this.#keys.nodes, expiresAt, record.id)
      .exec();
  }

  /** Stops heartbeating; with `deregister`, also removes the record at once (a graceful exit). */
  async stop(deregister = true): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (deregister) {
      await this.#redis.multi().del(this.#keys.node(this.#record.id)).zrem(this.#keys.nodes, this.#record.id).exec();
    }
  }

  /** The live nodes, least loaded first. Expired index entries are pruned on the way. */
  static async live(redis: Redis, prefix: string): Promise<NodeRecord[]> {
    const keys = clusterKeys(prefix);
    const now = Date.now();
    await redis.zremrangebyscore(keys.nodes, '-inf', now);
    const ids = await redis.zrangebyscore(keys.nodes, now, '+inf');
    if (ids.length === 0) return [];
    const raw = await redis.mget(...ids.map((id) => keys.node(id)));
    return raw
      .filter((value): value is string => value !== null)
      .map((value) => JSON.parse(value) as NodeRecord)
      .sort((a, b) => a.load - b.load || a.id.localeCompare(b.id));
  }
}
