/**
 * Cluster mode, part 2: which node serves a room. A room belongs to one node at a time, through a
 * lease in the store: claiming, renewing and releasing are single Lua scripts, so atomic, and every
 * claim after the lease was free takes a new epoch from a counter that only grows. Whatever the owner
 * writes about the room carries its epoch and is refused once another node holds a newer one
 * (fencing), so a node that was frozen past its lease cannot overwrite its successor.
 *
 * A node fences itself too: a lease it could not renew in time is dropped and reported as lost, and
 * the node must then stop serving the room (its clients reconnect to the new owner).
 */
import type { Redis } from 'ioredis';
import { clusterKeys } from './keys.ts';

/** KEYS: lease, epoch counter. ARGV: node id, lease ms. → {claimed 0|1, owner, epoch} */
const CLAIM = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return {0, owner, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
end
if owner then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, owner, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ARGV[1], epoch}
`;

/** KEYS: lease. ARGV: node id, epoch, lease ms. → 1 when still ours and extended, else 0 */
const RENEW = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
`;

/** KEYS: lease. ARGV: node id, epoch. → 1 when it was ours and is gone, else 0 */
const RELEASE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/** KEYS: lease, state. ARGV: epoch, field, value. → 1 when written under a live lease of this epoch */
const FENCED_WRITE = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3], 'epoch', ARGV[1])
return 1
`;

export type ClaimResult = { claimed: true; epoch: number } | { claimed: false; owner: string; epoch: number };

export type LeaseLossReason = 'taken' | 'expired' | 'fenced';

export interface RoomLeasesOptions {
  nodeId: string;
  leaseMs: number;
  /** How often held leases are renewed; at most a third of leaseMs. */
  renewMs: number;
  /** A held lease is gone: stop serving the room. */
  onLost: (roomId: string, reason: LeaseLossReason) => void;
  onError?: (error: Error) => void;
}

interface Held {
  epoch: number;
  /** Until when the lease is ours for sure: the last successful renewal's send time plus leaseMs. */
  validUntil: number;
}

export class RoomLeases {
  readonly #redis: Redis;
  readonly #keys: ReturnType<typeof clusterKeys>;
  readonly #options: RoomLeasesOptions;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: Redis, prefix: string, options: RoomLeasesOptions) {
    if (options.renewMs * 3 > options.leaseMs) throw new Error('renewMs must be at most a third of leaseMs');
    this.#redis = redis;
    this.#keys = clusterKeys(prefix);
    this.#options = options;
  }

  /** Rooms this node holds now, with their epochs. */
  held(): ReadonlyMap<string, number> {
    return new Map([...this.#held].map(([roomId, held]) => [roomId, held.epoch]));
  }

  /** Claims the room for this node, or says who holds it. Claiming a room already held extends it. */
  async claim(roomId: string): Promise<ClaimResult> {
    const sentAt = Date.now();
    const [claimed, owner, epoch] = (await this.#redis.eval(
      CLAIM, 2, this.#keys.lease(roomId), this.#keys.epoch(roomId), this.#options.nodeId, this.#options.leaseMs,
    )) as [number, string, number];
    if (claimed !== 1) return { claimed: false, owner, epoch };
    this.#held.set(roomId, { epoch, validUntil: sentAt + this.#options.leaseMs });
    this.#startRenewing();
    return { claimed: true, epoch };
  }

  /** Gives the room up (its meeting ended here, or the node is leaving). */
  async release(roomId: string): Promise<void> {
    const held = this.#held.get(roomId);
    if (!held) return;
    this.#held.delete(roomId);
    await this.#redis.eval(RELEASE, 1, this.#keys.lease(roomId), this.#options.nodeId, held.epoch);
  }

  /**
   * Writes a field of the room's shared state under this node's epoch. False (and the lease is
   * dropped as lost) when a newer owner holds the room.
   */
  async write(roomId: string, field: string, value: string): Promise<boolean> {
    const held = this.#held.get(roomId);
    if (!held) return false;
    if (Date.now() >= held.validUntil) {
      this.#lose(roomId, 'expired');
      return false;
    }
    const ok = (await this.#redis.eval(
      FENCED_WRITE, 2, this.#keys.lease(roomId), this.#keys.state(roomId), held.epoch, field, value,
    )) as number;
    if (ok !== 1) this.#lose(roomId, 'fenced');
    return ok === 1;
  }

  /** Renews every held lease once; drops those that are gone or could not be renewed in time. */
  async renewAll(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.#held].map(async ([roomId, held]) => {
        try {
          const ok = (await this.#redis.eval(
            RENEW, 1, this.#keys.lease(roomId), this.#options.nodeId, held.epoch, this.#options.leaseMs,
          )) as number;
          if (ok === 1) held.validUntil = now + this.#options.leaseMs;
          else this.#lose(roomId, 'taken');
        } catch (error) {
          this.#options.onError?.(error as Error);
        }
      }),
    );
    this.#fenceExpired();
  }

  /** Self-fencing: whatever the store says, or cannot say while unreachable, a lease past its time is not ours. */
  #fenceExpired(): void {
    const now = Date.now();
    for (const [roomId, held] of this.#held) if (now >= held.validUntil) this.#lose(roomId, 'expired');
  }

  /** Stops renewing; with `release`, gives every held room up at once (a graceful exit). */
  async stop(release = true): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (release) await Promise.all([...this.#held.keys()].map((roomId) => this.release(roomId)));
    this.#held.clear();
  }

  #startRenewing(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      // Checked before renewing too: a renewal stuck on an unreachable store must not keep a lease alive.
      this.#fenceExpired();
      void this.renewAll();
    }, this.#options.renewMs);
    this.#timer.unref();
  }

  #lose(roomId: string, reason: LeaseLossReason): void {
    if (!this.#held.delete(roomId)) return;
    this.#options.onLost(roomId, reason);
  }
}
