interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Keys tracked at most; past it the oldest bucket is dropped, so memory stays bounded under any load. */
const MAX_KEYS = 100_000;

/**
 * A token bucket per key: `perMinute` actions at once, refilled at `perMinute` a minute. A bucket
 * that has refilled is indistinguishable from a new one, so `sweep()` drops it: only keys active in
 * the last minute or so take memory.
 */
export class KeyedRateLimit {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = MAX_KEYS,
  ) {
    this.#perMs = perMinute / 60_000;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Whether `key` may act now; spends nothing. */
  available(key: string): boolean {
    return this.#tokens(key, this.now()) >= 1;
  }

  /** Spends one action of `key` (callers check `available` first). */
  take(key: string): void {
    const now = this.now();
    const tokens = this.#tokens(key, now) - 1;
    const bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = tokens;
      bucket.updatedAt = now;
      return;
    }
    if (this.#buckets.size >= this.maxKeys) this.sweep();
    if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(key, { tokens, updatedAt: now });
  }

  /** Forgets the buckets that have refilled. */
  sweep(): void {
    const now = this.now();
    for (const [key] of this.#buckets) if (this.#tokens(key, now) >= this.perMinute) this.#buckets.delete(key);
  }

  #tokens(key: string, now: number): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return this.perMinute;
    return Math.min(this.perMinute, bucket.tokens + (now - bucket.updatedAt) * this.#perMs);
  }
}
