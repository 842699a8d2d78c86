/**
 * Cluster mode: this node's membership of a Roundtable cluster that shares one Valkey/Redis
 * (`cluster.redisUrl`). It registers the node, places rooms (one owner at a time, by fenced lease),
 * carries each room's stored record to whichever node serves it, and lets pages served by other
 * nodes open signaling here. Only `createRoundtableServer` imports it, and only when configured.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Config } from '../../../config/index.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RoomPlacement } from '../rooms/placement.ts';
import type { Room } from '../rooms/Room.ts';
import { clusterKeys } from './keys.ts';
import { type NodeRecord, NodeRegistry } from './NodeRegistry.ts';
import { RedirectTokens } from './redirect-tokens.ts';
import { RoomRecords } from './RoomRecords.ts';
import { type LeaseLossReason, RoomLeases } from './RoomLeases.ts';

/** How often a join for a room whose owner died looks again whether the lease has lapsed. */
const TAKEOVER_POLL_MS = 200;
/** The store's errors are logged at most this often (a store that is down fails every beat). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface ClusterOptions {
  config: Config;
  logger: Logger;
  directory: RoomDirectory;
  /** The address browsers send media to, for the node record. */
  mediaAddress: string;
  /** What placement compares; lower is less loaded. */
  load: () => number;
  /** This node no longer owns the room: stop serving it, and send its people to the new owner. */
  onRoomLost: (roomId: string, reason: LeaseLossReason) => void;
}

export class ClusterStoreUnreachable extends Error {
  override name = 'ClusterStoreUnreachable';
}

export class Cluster implements RoomPlacement {
  readonly nodeId: string;
  readonly publicUrl: string;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #registry: NodeRegistry;
  readonly #leases: RoomLeases;
  readonly #records: RoomRecords;
  readonly #tokens: RedirectTokens;
  readonly #logger: Logger;
  readonly #leaseMs: number;
  /** Live nodes as last read (refreshed at every heartbeat and on every placement). */
  #live: NodeRecord[] = [];
  #refresher: NodeJS.Timeout | undefined;
  /** Placements under way, per room, so simultaneous joins claim and load once. */
  readonly #placing = new Map<string, Promise<void>>();
  #lastErrorLog = 0;

  /** Connects to the store (failing fast with a clear message) and registers this node. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const { cluster } = options.config;
    const redis = new Redis(cluster.redisUrl!, {
      lazyConnect: true,
      connectTimeout: cluster.connectTimeoutMs,
      // A command waits through a short outage, then fails, so a join gets CLUSTER_UNAVAILABLE.
      maxRetriesPerRequest: 2,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    const node = new Cluster(redis, options);
    try {
      await Promise.race([
        redis.connect().then(() => redis.ping()),
        sleep(cluster.connectTimeoutMs, undefined, { ref: false }).then(() => {
          throw new Error(`no answer within ${cluster.connectTimeoutMs} ms`);
        }),
      ]);
      await node.#registry.start();
      await node.#refresh();
    } catch (error) {
      redis.disconnect();
      throw new ClusterStoreUnreachable(
        `cannot reach the cluster store at ${redactUrl(cluster.redisUrl!)} (cluster.redisUrl, ROUNDTABLE_CLUSTER_REDIS_URL): ${(error as Error).message}`,
      );
    }
    node.#refresher = setInterval(() => void node.#refresh().catch((error: unknown) => node.#storeError(error)), node.#leaseMs / 6);
    node.#refresher.unref();
    options.logger.info({ nodeId: node.nodeId, publicUrl: node.publicUrl, nodes: node.#live.length }, 'joined the cluster');
    return node;
  }

  private constructor(redis: Redis, options: ClusterOptions) {
    const { cluster, http } = options.config;
    this.#redis = redis;
    this.#prefix = cluster.keyPrefix;
    this.#leaseMs = cluster.leaseMs;
    this.#logger = options.logger;
    this.publicUrl = cluster.publicUrl!;
    this.nodeId = cluster.nodeId ?? `${os.hostname()}-${new URL(this.publicUrl).port || http.port}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    redis.on('error', (error: Error) => this.#storeError(error));
    this.#registry = new NodeRegistry(
      redis,
      this.#prefix,
      { id: this.nodeId, signalingUrl: this.publicUrl, mediaAddress: options.mediaAddress },
      // Half the lease: a dead node stops receiving redirects well before its rooms are free again.
      { ttlMs: Math.floor(this.#leaseMs / 2), heartbeatMs: Math.floor(this.#leaseMs / 6), load: options.load, onError: (error) => this.#storeError(error) },
    );
    this.#leases = new RoomLeases(redis, this.#prefix, {
      nodeId: this.nodeId,
      leaseMs: this.#leaseMs,
      renewMs: Math.floor(this.#leaseMs / 4),
      onLost: (roomId, reason) => {
        this.#logger.warn({ roomId, reason }, 'this node no longer owns the room; its people go to the new owner');
        options.onRoomLost(roomId, reason);
      },
      onError: (error) => this.#storeError(error),
    });
    this.#records = new RoomRecords(redis, this.#prefix, options.directory, this.#leases, this.#logger);
    this.#tokens = new RedirectTokens(options.config.cluster.secret!, this.nodeId);
  }

  /** Rooms this node serves now, with their lease epochs. */
  held(): ReadonlyMap<string, number> {
    return this.#leases.held();
  }

  async place(roomId: string, redirect: string | undefined): Promise<void> {
    if (redirect !== undefined) await this.#tokens.verify(redirect, roomId);
    if (this.#leases.holds(roomId)) return;
    let pending = this.#placing.get(roomId);
    if (!pending) {
      pending = this.#place(roomId, redirect !== undefined).finally(() => this.#placing.delete(roomId));
      this.#placing.set(roomId, pending);
    }
    return pending;
  }

  async created(roomId: string): Promise<void> {
    try {
      await this.#records.publishNew(roomId);
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  nodes(): string[] {
    const others = this.#live.filter((node) => node.id !== this.nodeId).map((node) => node.signalingUrl);
    return [this.publicUrl, ...others];
  }

  /** Pages served by any live node may open signaling here. */
  isNodeOrigin(origin: string): boolean {
    return this.#live.some((node) => node.signalingUrl === origin);
  }

  /** A live room was made here for a room this node claimed: its stored chat, and keeping it. */
  attach(room: Room): void {
    this.#records.attach(room);
  }

  /** The room closed here (empty): it is free for whichever node is asked next. */
  released(roomId: string): void {
    this.#records
      .endChat(roomId)
      .then(() => this.#leases.release(roomId))
      .catch((error: unknown) => this.#storeError(error));
  }

  /** Leaves the cluster: stops heartbeats and renewals, and gives every room up at once. */
  async stop(): Promise<void> {
    clearInterval(this.#refresher);
    this.#records.close();
    await Promise.allSettled([this.#leases.stop(true), this.#registry.stop(true)]);
    this.#redis.disconnect();
  }

  /**
   * Claims the room or names its owner. A free room goes to the least loaded node (this one when a
   * pass sent the client here); a room whose owner is alive is served there; a room whose owner
   * died (no heartbeat) is claimed here as soon as its lease lapses.
   */
  async #place(roomId: string, passed: boolean): Promise<void> {
    // Within the client's join timeout; past it the client asks again.
    const deadline = Date.now() + Math.min(this.#leaseMs + 1_000, 8_000);
    const leaseKey = clusterKeys(this.#prefix).lease(roomId);
    try {
      await this.#refresh();
      for (;;) {
        const owner = await this.#redis.hget(leaseKey, 'owner');
        if (owner && owner !== this.nodeId) {
          const node = this.#live.find((n) => n.id === owner);
          if (node) throw await this.#wrongNode(roomId, node);
          if (Date.now() > deadline) throw new SignalingError('CLUSTER_UNAVAILABLE', 'the node serving this room stopped answering; try again in a moment');
          await sleep(TAKEOVER_POLL_MS);
          await this.#refresh();
          continue;
        }
        if (!owner && !passed) {
          const target = this.#live[0];
          if (target && target.id !== this.nodeId) throw await this.#wrongNode(roomId, target);
        }
        const claim = await this.#leases.claim(roomId);
        if (claim.claimed) {
          await this.#records.load(roomId);
          this.#logger.info({ roomId, epoch: claim.epoch }, 'room claimed');
          return;
        }
        // Another node won the race: go round once more, which sends the client there.
      }
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  async #wrongNode(roomId: string, node: NodeRecord): Promise<SignalingError> {
    const token = await this.#tokens.sign(roomId, node.id);
    return new SignalingError('WRONG_NODE', 'this room is served by another node', { url: node.signalingUrl, token });
  }

  async #refresh(): Promise<void> {
    this.#live = await NodeRegistry.live(this.#redis, this.#prefix);
  }

  #unavailable(error: unknown): SignalingError {
    if (error instanceof SignalingError) return error;
    this.#storeError(error);
    return new SignalingError('CLUSTER_UNAVAILABLE', 'the cluster store cannot be reached; try again in a moment');
  }

  #storeError(error: unknown): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    this.#logger.error({ err: error }, 'the cluster store failed a request (rooms served here keep running while their leases hold)');
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}
