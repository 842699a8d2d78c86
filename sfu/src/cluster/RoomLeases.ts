/**
 * Cluster mode, part 2: which node serves a room. A room belongs to one node at a time, through a
 * lease in the store: claiming, renewing and releasing are single Lua scripts, so atomic, and every
 * claim after the lease was free takes a new epoch that only grows. Whatever the owner writes about
 * the room carries its owner id and epoch and is refused unless that very lease is live (fencing), so
 * a node that was frozen past its lease cannot overwrite its successor.
 *
 * A node fences itself too: a lease it could not renew in time is dropped and reported as lost, and
 * the node must then stop serving the room (its clients reconnect to the new owner).
 *
 * A store restart does not end meetings: a renewal that finds the lease key gone (the store lost its
 * data, or the key lapsed while nobody claimed it) re-creates it for the holder, provided the room's
 * epoch counter is missing or not past the held epoch. That is safe because every claim creates the
 * lease key and raises the counter, so nobody can have claimed in between. Self-fencing is unchanged:
 * only a renewal the store answered extends a lease, so a store down for longer than the lease still
 * costs the holder its rooms ('expired'), for good.
 *
 * Epochs across data loss: a new epoch is max(counter + 1, the store's clock in ms), so it stays above
 * every earlier epoch even when the counter was lost or rolled back to an older snapshot, as long as
 * the store's clock has not gone back and a room gets fewer than one new owner per ms on average. That
 * is a clock assumption, not a guarantee: only a durably persisted counter (or a consensus store)
 * would make it one. What holds regardless: a lease is the store's (owner, epoch) pair, so a fenced
 * write needs both to match, and a renewal that finds another owner reports the room 'taken'; two
 * nodes never both keep a room once either has spoken to the store.
 */
import type { Redis } from 'ioredis';
import { clusterKeys } from './keys.ts';

/**
 * KEYS: lease, epoch counter. ARGV: node id, lease ms. → {claimed 0|1, owner, epoch}
 * A new epoch is the counter + 1, or the store's clock in ms when that is higher (see above).
 */
const CLAIM = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return {0, owner, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
end
if owner then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, owner, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
end
local time = redis.call('TIME')
local now = tonumber(time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000)))
local epoch = redis.call('INCR', KEYS[2])
if epoch < now then
  redis.call('SET', KEYS[2], now)
  epoch = now
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ARGV[1], epoch}
`;

/**
 * KEYS: lease, epoch counter. ARGV: node id, epoch, lease ms. → 1 when still ours and extended, else 0.
 * A lease key that is gone altogether is re-created for the holder unless a newer epoch was handed out.
 */
const RENEW = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local counter = tonumber(redis.call('GET', KEYS[2]))
  local epoch = tonumber(ARGV[2])
  if counter and counter > epoch then
    return 0
  end
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  if not counter or counter < epoch then
    redis.call('SET', KEYS[2], ARGV[2])
  end
  return 1
end
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

/** KEYS: lease, state. ARGV: epoch, field, value, node id. → 1 when written under this node's live lease of this epoch */
const FENCED_WRITE = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[4] then
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
  /** When the timer's renewal round still in flight started, if one is. */
  #roundStartedAt: number | undefined;

  constructor(redis: Redis, prefix: string, options: RoomLeasesOptions) {
    if (options.renewMs * 3 > options.leaseMs) throw new Error('renewMs must be at most a third of leaseMs');
    this.#redis = redis;
    this.#keys = clusterKeys(prefix);
    this.#options = options;
  }

  /** Rooms this node holds now, with their epochs. */
  held(): ReadonlyMap<string, number> {
    // A lease past its time is not ours, even before the timer that reports it lost has run (a node
    // thawed after SIGSTOP answers nothing with a lease it no longer holds).
    const now = Date.now();
    return new Map([...this.#held].filter(([, held]) => now < held.validUntil).map(([roomId, held]) => [roomId, held.epoch]));
  }

  /** Whether this node holds the room's lease now (see held()). */
  holds(roomId: string): boolean {
    const held = this.#held.get(roomId);
    return held !== undefined && Date.now() < held.validUntil;
  }

  /** Claims the room for this node, or says who holds it. Claiming a room already held extends it. */
  async claim(roomId: string): Promise<ClaimResult> {
    const sentAt = Date.now();
    const [claimed, owner, epoch] = (await this.#redis.eval(
      CLAIM, 2, this.#keys.lease(roomId), this.#keys.epoch(roomId), this.#options.nodeId, this.#options.leaseMs,
    )) as [number, string, number];
    if (claimed !== 1) return { claimed: false, owner, epoch };
    const held = this.#held.get(roomId);
    if (held?.epoch === epoch) held.validUntil = Math.max(held.validUntil, sentAt + this.#options.leaseMs);
    else this.#held.set(roomId, { epoch, validUntil: sentAt + this.#options.leaseMs });
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
      FENCED_WRITE, 2, this.#keys.lease(roomId), this.#keys.state(roomId), held.epoch, field, value, this.#options.nodeId,
    )) as number;
    if (ok !== 1) this.#lose(roomId, 'fenced', held);
    return ok === 1;
  }

  /** Renews every held lease once; drops those that are gone or could not be renewed in time. */
  async renewAll(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.#held].map(async ([roomId, held]) => {
        try {
          const ok = (await this.#redis.eval(
            RENEW, 2, this.#keys.lease(roomId), this.#keys.epoch(roomId), this.#options.nodeId, held.epoch, this.#options.leaseMs,
          )) as number;
          const current = this.#held.get(roomId);
          if (ok !== 1) this.#lose(roomId, 'taken', held);
          else if (current?.epoch === held.epoch) current.validUntil = Math.max(current.validUntil, now + this.#options.leaseMs);
          // A late answer (say, resent after the store came back) for a room this node has dropped
          // meanwhile may have re-created its lease: give it back rather than block the room (unless
          // stopped: stop(false) means leaving leases to expire).
          else if (this.#timer) await this.#redis.eval(RELEASE, 1, this.#keys.lease(roomId), this.#options.nodeId, held.epoch);
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
    for (const [roomId, held] of this.#held) if (now >= held.validUntil) this.#lose(roomId, 'expired', held);
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
      // One round at a time, so that renewals failing or hanging while the store is away do not pile
      // up. A round older than a lease can no longer extend anything: then a new one may start.
      const startedAt = Date.now();
      if (this.#roundStartedAt !== undefined && startedAt - this.#roundStartedAt < this.#options.leaseMs) return;
      this.#roundStartedAt = startedAt;
      void this.renewAll().finally(() => {
        if (this.#roundStartedAt === startedAt) this.#roundStartedAt = undefined;
      });
    }, this.#options.renewMs);
    this.#timer.unref();
  }

  /** With `held`: only if the room is still held under that lease (not released and claimed again since). */
  #lose(roomId: string, reason: LeaseLossReason, held?: Held): void {
    if (held && this.#held.get(roomId)?.epoch !== held.epoch) return;
    if (!this.#held.delete(roomId)) return;
    this.#options.onLost(roomId, reason);
  }
}
