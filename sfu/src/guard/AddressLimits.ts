import type { Config } from '../../../config/index.ts';
import type { ErrorCode } from '../../../shared/index.ts';
import { KeyedRateLimit } from './KeyedRateLimit.ts';

/**
 * What one client address (see `limitKey`) may hold and do: open signaling connections, joins a
 * minute, and room creations a minute. In memory; an address that goes quiet is forgotten.
 */
export class AddressLimits {
  readonly #connections = new Map<string, number>();
  readonly #joins: KeyedRateLimit;
  readonly #roomCreations: KeyedRateLimit;

  constructor(
    private readonly limits: Config['limits'],
    now: () => number = () => performance.now(),
  ) {
    this.#joins = new KeyedRateLimit(limits.joinsPerMinute, now);
    this.#roomCreations = new KeyedRateLimit(limits.roomCreationsPerMinute, now);
  }

  /** Counts one more open connection from `key`; false (and nothing counted) when it holds its share. */
  openConnection(key: string): boolean {
    const open = this.#connections.get(key) ?? 0;
    if (open >= this.limits.connectionsPerAddress) return false;
    this.#connections.set(key, open + 1);
    return true;
  }

  closeConnection(key: string): void {
    const open = (this.#connections.get(key) ?? 0) - 1;
    if (open > 0) this.#connections.set(key, open);
    else this.#connections.delete(key);
  }

  connections(key: string): number {
    return this.#connections.get(key) ?? 0;
  }

  /**
   * Counts a join from `key`, and a room creation too when the join opens a room. Returns the code
   * that refuses it instead, with nothing counted.
   */
  admitJoin(key: string, createsRoom: boolean): Extract<ErrorCode, 'TOO_MANY_JOINS' | 'TOO_MANY_ROOMS'> | undefined {
    if (createsRoom && !this.#roomCreations.available(key)) return 'TOO_MANY_ROOMS';
    if (!this.#joins.available(key)) return 'TOO_MANY_JOINS';
    if (createsRoom) this.#roomCreations.take(key);
    this.#joins.take(key);
    return undefined;
  }

  /** Counts a room creation that is not a join (a new webinar); false when `key` has none left. */
  admitRoomCreation(key: string): boolean {
    if (!this.#roomCreations.available(key)) return false;
    this.#roomCreations.take(key);
    return true;
  }

  /** Forgets addresses whose budgets have refilled. */
  sweep(): void {
    this.#joins.sweep();
    this.#roomCreations.sweep();
  }

  /** Entries held now (connection counts and rate buckets): what an address that went quiet must not keep. */
  get entries(): number {
    return this.#connections.size + this.#joins.size + this.#roomCreations.size;
  }
}
