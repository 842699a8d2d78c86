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
import type { Server } from 'socket.io';
import type { MediaAddress } from '../network/media-address.ts';
import type { Placed, RoomPlacement } from '../rooms/placement.ts';
import type { Room } from '../rooms/Room.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { EdgeRoom } from './EdgeRoom.ts';
import { OriginLinks } from './OriginLinks.ts';
import { clusterKeys } from './keys.ts';
import { type NodeRecord, NodeRegistry } from './NodeRegistry.ts';
import { RedirectTokens } from './redirect-tokens.ts';
import { RoomRecords } from './RoomRecords.ts';
import { type LeaseLossReason, RoomLeases } from './RoomLeases.ts';

/** How often a join for a room whose owner died looks again whether the lease has lapsed. */
const TAKEOVER_POLL_MS = 200;
/** An edge room nobody ended up joining (the viewer's join failed after it opened) closes after this. */
const EDGE_IDLE_MS = 30_000;
/** The store's errors are logged at most this often (a store that is down fails every beat). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface ClusterOptions {
  config: Config;
  logger: Logger;
  directory: RoomDirectory;
  registry: RoomRegistry;
  /** Where browsers (and other nodes' pipes) send media. */
  address: MediaAddress;
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
  /** How often node records are rewritten and re-read: a sixth of a lease (records live half of one). */
  readonly #heartbeatMs: number;
  /** Live nodes as last read (refreshed at every heartbeat and on every placement). */
  #live: NodeRecord[] = [];
  #refresher: NodeJS.Timeout | undefined;
  /** Placements under way, per room, so simultaneous joins claim and load once. */
  readonly #placing = new Map<string, Promise<Placed>>();
  readonly #directory: RoomDirectory;
  readonly #roomRegistry: RoomRegistry;
  readonly #address: MediaAddress;
  /** Webinars this node serves as an edge (another node owns them), and those being linked. */
  readonly #edgeRooms = new Map<string, EdgeRoom>();
  readonly #edgeOpening = new Map<string, Promise<EdgeRoom>>();
  #origin: OriginLinks | undefined;
  /**
   * Rooms and viewers this node sent to (or took on) each node lately. A node's load in the store is
   * only as fresh as its last heartbeat; counting these on top spreads a burst of new rooms instead of
   * sending all of it to whichever node looked lightest at the last beat.
   */
  readonly #recentlyPlaced: { nodeId: string; at: number }[] = [];
  #lastErrorLog = 0;
  /**
   * Every node URL seen since this node started. Pages served by a node that has since died must
   * still reach the others: that is how their people get back into their rooms.
   */
  readonly #nodeOrigins = new Set<string>();

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
    node.#refresher = setInterval(() => void node.#refresh().catch((error: unknown) => node.#storeError(error)), node.#heartbeatMs);
    node.#refresher.unref();
    options.logger.info({ nodeId: node.nodeId, publicUrl: node.publicUrl, nodes: node.#live.length }, 'joined the cluster');
    return node;
  }

  private constructor(redis: Redis, options: ClusterOptions) {
    const { cluster, http } = options.config;
    this.#redis = redis;
    this.#prefix = cluster.keyPrefix;
    this.#leaseMs = cluster.leaseMs;
    this.#heartbeatMs = Math.floor(cluster.leaseMs / 6);
    this.#logger = options.logger;
    this.#directory = options.directory;
    this.#roomRegistry = options.registry;
    this.#address = options.address;
    this.publicUrl = cluster.publicUrl!;
    this.nodeId = cluster.nodeId ?? `${os.hostname()}-${new URL(this.publicUrl).port || http.port}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    redis.on('error', (error: Error) => this.#storeError(error));
    this.#registry = new NodeRegistry(
      redis,
      this.#prefix,
      { id: this.nodeId, signalingUrl: this.publicUrl, mediaAddress: options.address.announcedIp },
      // Half the lease: a dead node stops receiving redirects well before its rooms are free again.
      { ttlMs: Math.floor(this.#leaseMs / 2), heartbeatMs: this.#heartbeatMs, load: options.load, onError: (error) => this.#storeError(error) },
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

  /** Webinar edges: other nodes serving this node's webinar audiences connect here. */
  serveEdges(io: Server): void {
    this.#origin = new OriginLinks(io, {
      registry: this.#roomRegistry,
      tokens: this.#tokens,
      address: this.#address,
      holds: (roomId) => this.#leases.holds(roomId),
      logger: this.#logger,
    });
  }

  /** For /healthz: rooms held, edges this node pipes to, and webinars it serves as an edge. */
  state(): object {
    const edgeRooms = Object.fromEntries(
      [...this.#edgeRooms].map(([roomId, edge]) => [roomId, { origin: edge.originId, viewers: edge.viewers, pipedProducers: edge.pipedProducers }]),
    );
    return { nodeId: this.nodeId, leases: Object.fromEntries(this.held()), edges: this.#origin?.edges() ?? {}, edgeRooms };
  }

  async place(roomId: string, redirect: string | undefined): Promise<Placed> {
    if (redirect !== undefined) await this.#tokens.verify(redirect, roomId);
    if (this.#leases.holds(roomId)) return {};
    const edge = this.#edgeRooms.get(roomId);
    if (edge && !edge.closed) {
      const origin = this.#live.find((node) => node.id === edge.originId);
      if (origin) return this.#asEdge(roomId, origin);
    }
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

  async spreadViewer(roomId: string, passed: boolean): Promise<void> {
    if (passed) return; // sent here on purpose
    const least = this.#leastLoaded();
    const self = this.#live.find((node) => node.id === this.nodeId);
    if (least && self && least.id !== this.nodeId && this.#loadOf(least) < this.#loadOf(self)) {
      this.#placed(least.id);
      throw await this.#wrongNode(roomId, least);
    }
  }

  /** A node's load as of its last heartbeat, plus what this node placed there since. */
  #loadOf(node: NodeRecord): number {
    const since = Date.now() - 2 * this.#heartbeatMs; // two heartbeats: by then its record counts them
    while (this.#recentlyPlaced.length > 0 && this.#recentlyPlaced[0]!.at < since) this.#recentlyPlaced.shift();
    return node.load + this.#recentlyPlaced.filter((placed) => placed.nodeId === node.id).length;
  }

  /** The least loaded live node; this one when it is as little loaded as any (no redirect for nothing). */
  #leastLoaded(): NodeRecord | undefined {
    let best = this.#live.find((node) => node.id === this.nodeId);
    for (const node of this.#live) if (!best || this.#loadOf(node) < this.#loadOf(best)) best = node;
    return best;
  }

  #placed(nodeId: string): void {
    this.#recentlyPlaced.push({ nodeId, at: Date.now() });
    if (this.#recentlyPlaced.length > 10_000) this.#recentlyPlaced.shift();
  }

  nodes(): string[] {
    const others = this.#live.filter((node) => node.id !== this.nodeId).map((node) => node.signalingUrl);
    return [this.publicUrl, ...others];
  }

  /** Pages served by any live node may open signaling here. */
  isNodeOrigin(origin: string): boolean {
    return this.#nodeOrigins.has(origin);
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
    for (const edge of this.#edgeRooms.values()) edge.close();
    this.#origin?.close();
    this.#records.close();
    await Promise.allSettled([this.#leases.stop(true), this.#registry.stop(true)]);
    this.#redis.disconnect();
  }

  /**
   * Claims the room or names its owner. A free room goes to the least loaded node (this one when a
   * pass sent the client here); a room whose owner is alive is served there; a room whose owner
   * died (no heartbeat) is claimed here as soon as its lease lapses.
   */
  async #place(roomId: string, passed: boolean): Promise<Placed> {
    // Within the client's join timeout; past it the client asks again.
    const deadline = Date.now() + Math.min(this.#leaseMs + 1_000, 8_000);
    const leaseKey = clusterKeys(this.#prefix).lease(roomId);
    try {
      await this.#refresh();
      for (;;) {
        const owner = await this.#redis.hget(leaseKey, 'owner');
        if (owner && owner !== this.nodeId) {
          const node = this.#live.find((n) => n.id === owner);
          if (node) {
            // A webinar's audience may be served here, as an edge; anything else goes to the owner.
            await this.#records.load(roomId);
            if (this.#directory.isWebinar(roomId)) return this.#asEdge(roomId, node);
            throw await this.#wrongNode(roomId, node);
          }
          if (Date.now() > deadline) throw new SignalingError('CLUSTER_UNAVAILABLE', 'the node serving this room stopped answering; try again in a moment');
          await sleep(TAKEOVER_POLL_MS);
          await this.#refresh();
          continue;
        }
        if (!owner && !passed) {
          const target = this.#leastLoaded();
          if (target && target.id !== this.nodeId) {
            this.#placed(target.id);
            throw await this.#wrongNode(roomId, target);
          }
        }
        const claim = await this.#leases.claim(roomId);
        // Counted only where this node made the choice: a pass's target was counted by its sender.
        if (claim.claimed && !passed) this.#placed(this.nodeId);
        if (claim.claimed) {
          await this.#records.load(roomId);
          this.#logger.info({ roomId, epoch: claim.epoch }, 'room claimed');
          return {};
        }
        // Another node won the race: go round once more, which sends the client there.
      }
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  #asEdge(roomId: string, origin: NodeRecord): Placed {
    return { edge: { open: () => this.#openEdge(roomId, origin), toOwner: () => this.#wrongNode(roomId, origin) } };
  }

  /** The edge room for a webinar `origin` owns: this node's viewers, and the origin's stage piped in once. */
  async #openEdge(roomId: string, origin: NodeRecord): Promise<Room> {
    const existing = this.#edgeRooms.get(roomId);
    if (existing && !existing.closed) return existing.room;
    let pending = this.#edgeOpening.get(roomId);
    if (!pending) {
      pending = (async () => {
        const room = await this.#roomRegistry.getOrCreate(roomId, 'webinar');
        const pass = await this.#tokens.sign(roomId, origin.id, 'edge');
        const edge = await EdgeRoom.open(room, { id: origin.id, url: origin.signalingUrl }, pass, this.#address, this.#logger);
        this.#edgeRooms.set(roomId, edge);
        // The link lives as long as viewers here watch.
        room.on('peerLeft', () => {
          if (edge.viewers === 0) edge.close();
        });
        room.once('close', () => {
          if (this.#edgeRooms.get(roomId) === edge) this.#edgeRooms.delete(roomId);
          edge.close();
        });
        setTimeout(() => edge.viewers === 0 && edge.close(), EDGE_IDLE_MS).unref();
        return edge;
      })().finally(() => this.#edgeOpening.delete(roomId));
      this.#edgeOpening.set(roomId, pending);
    }
    try {
      return (await pending).room;
    } catch (error) {
      this.#logger.warn({ err: error, roomId, origin: origin.id }, 'cannot serve this webinar as an edge; sending the viewer to its origin');
      throw await this.#wrongNode(roomId, origin);
    }
  }

  async #wrongNode(roomId: string, node: NodeRecord): Promise<SignalingError> {
    const token = await this.#tokens.sign(roomId, node.id);
    return new SignalingError('WRONG_NODE', 'this room is served by another node', { url: node.signalingUrl, token });
  }

  async #refresh(): Promise<void> {
    this.#live = await NodeRegistry.live(this.#redis, this.#prefix);
    for (const node of this.#live) this.#nodeOrigins.add(node.signalingUrl);
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
