/**
 * Roundtable nodes of one cluster, each a real process (`node sfu/src/main.ts`) on its own fixed
 * loopback port (its public URL must be known before it listens), sharing one redis-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EntryPoint, freePort } from './entry-point.ts';

export const CLUSTER_SECRET = 'test-cluster-secret-0123456789abcdef';

export interface ClusterNodeOptions {
  nodeId: string;
  redisUrl: string;
  leaseMs: number;
  keyPrefix: string;
  /** Serve the built client (browser tests). */
  staticDir?: string;
  env?: Record<string, string>;
}

export interface NodeHealth {
  rooms: number;
  cluster?: {
    nodeId: string;
    leases: Record<string, number>;
    /** Origin side: per webinar, the edge nodes it pipes to. */
    edges: Record<string, string[]>;
    /** Edge side: per webinar this node serves as an edge, its origin, viewers here and producers piped in. */
    edgeRooms: Record<string, { origin: string; viewers: number; pipedProducers: number }>;
  };
}

export class ClusterNode {
  readonly dataDir = mkdtempSync(path.join(os.tmpdir(), 'rt-node-'));
  entry: EntryPoint | undefined;
  url = '';

  private constructor(
    readonly options: ClusterNodeOptions,
    readonly port: number,
  ) {}

  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const node = await ClusterNode.prepare(options);
    await node.restart();
    return node;
  }

  /**
   * A node with its port and data directory, not started yet (`restart()` starts it): a caller can
   * register it for cleanup first, so that one whose start fails is still stopped and removed.
   */
  static async prepare(options: ClusterNodeOptions): Promise<ClusterNode> {
    return new ClusterNode(options, await freePort());
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Starts the process (again, after a kill) on the same port and data directory. */
  async restart(): Promise<void> {
    const { nodeId, redisUrl, leaseMs, keyPrefix, staticDir, env } = this.options;
    this.entry = new EntryPoint(this.dataDir, {
      env: {
        PORT: String(this.port),
        ROUNDTABLE_ADMIN_PORT: '0',
        ROUNDTABLE_CLUSTER_REDIS_URL: redisUrl,
        ROUNDTABLE_CLUSTER_NODE_ID: nodeId,
        ROUNDTABLE_CLUSTER_PUBLIC_URL: `http://127.0.0.1:${this.port}`,
        ROUNDTABLE_CLUSTER_SECRET: CLUSTER_SECRET,
        ROUNDTABLE_CLUSTER_KEY_PREFIX: keyPrefix,
        ROUNDTABLE_CLUSTER_LEASE_MS: String(leaseMs),
        ...(staticDir ? { ROUNDTABLE_STATIC_DIR: staticDir } : {}),
        ...env,
      },
    });
    this.url = await this.entry.ready;
  }

  /** The admin listener's URL, from the node's own startup log. */
  adminUrl(): string {
    for (const line of this.entry?.output ?? []) {
      if (!line.startsWith('{')) continue;
      const { adminUrl } = JSON.parse(line) as { adminUrl?: string };
      if (adminUrl) return adminUrl;
    }
    throw new Error(`${this.nodeId} has not logged its admin URL`);
  }

  /** Rejects when the node does not answer within a second (killed, or frozen with SIGSTOP). */
  async health(): Promise<NodeHealth> {
    const response = await fetch(`${this.adminUrl()}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return (await response.json()) as NodeHealth;
  }

  /** The rooms this node holds leases for now (empty when it does not answer). */
  async leases(): Promise<string[]> {
    try {
      return Object.keys((await this.health()).cluster?.leases ?? {});
    } catch {
      return [];
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.entry?.signal(signal);
  }

  /** SIGKILL: no goodbye, no lease released, as when a machine dies. */
  async kill(): Promise<void> {
    this.entry?.signal('SIGKILL');
    await this.entry?.exited;
  }

  async stop(): Promise<void> {
    if (this.entry) {
      this.entry.signal('SIGCONT'); // a node a test froze must be able to hear SIGTERM
      await this.entry.stop();
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
