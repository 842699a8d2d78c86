/**
 * Cluster mode's costs, without browsers or media: one redis-server and N Roundtable node processes
 * (`node sfu/src/main.ts`, as in tests/integration/cluster-nodes.test.ts) on this machine, driven by
 * signaling clients in this process that follow WRONG_NODE redirects as the browser does. Measures:
 *  1. join latency (connect start to the successful join reply, redirects included) to new rooms
 *     through a random node, served there (0 hops) or redirected, and to existing rooms through
 *     their owner (0 hops) and through a node that does not own them (1 hop);
 *  2. how least-loaded placement spreads rooms opened through random nodes;
 *  3. the failover gap: kill -9 of a room's owner until a join through a survivor is served by the
 *     room's new owner, next to the lease;
 *  4. webinar viewers carried at < 1 % loss with 1, 2 and 3 nodes (tests/bench/cluster-viewers.ts:
 *     in-process nodes, one worker each, with bench:broadcast's synthetic speaker and viewers).
 * Every process and temporary directory it starts is stopped and removed at the end, also on
 * failure or Ctrl-C. The per-address join and room-creation limits are lifted: every client is 127.0.0.1.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { TestClient } from '../helpers/client.ts';
import { ClusterNode, type ClusterNodeOptions } from '../helpers/cluster.ts';
import { startRedis } from '../helpers/redis.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, UsageError, increasingIntList, nonNegativeNumber, positiveInt, positiveNumber, progress, runTool } from './cli.ts';
import {
  type ClusterResults,
  type FailoverRow,
  type LatencyRow,
  type PlacementRow,
  failoverTable,
  latencyRow,
  latencyTable,
  machineLine,
  placementTable,
  summaryLines,
} from './cluster-report.ts';
import { VIEWERS_DEFAULTS, measureViewers } from './cluster-viewers.ts';
import { type ViewersResults, viewersJson, viewersSummaryLines } from './cluster-viewers-report.ts';
import { machineInfo } from './machine.ts';
import { round } from './statistics.ts';

const TOOL = 'cluster';

const USAGE = `Usage: node --import tsx tests/bench/cluster.ts [options]

Starts redis-server and N Roundtable nodes in cluster mode on this machine, then measures with
signaling clients (no media): join latency through the directory (redirects included), placement
of rooms opened through random nodes, and the failover gap after kill -9 of a room's owner. Then,
with media: webinar viewers carried at < 1 % loss on 1, 2 and 3 nodes (in-process nodes, one
mediasoup worker each, an ffmpeg-fed speaker on the origin and synthetic SRTP viewers split evenly
over all nodes, the origin included; needs ffmpeg and a C compiler, as bench:broadcast).

  --nodes N      node processes (default 3; 1 gives the single-node baseline of the join latency)
  --joins N      joins to new rooms, to existing rooms through their owner, and through another
                 node (default 200 of each)
  --rooms N      rooms of 2 clients each opened for the placement spread (default 60)
  --kills N      failover rounds, one owner killed each (default 5; needs 2 nodes or more)
  --lease-ms MS  the room lease (default 3000; production default 10000)

  --viewers-nodes A,B,...    node counts of the webinar section (default ${VIEWERS_DEFAULTS.nodeCounts})
  --cluster-viewers A,B,...  total viewers at each ramp step, increasing (default
                             ${VIEWERS_DEFAULTS.steps}); a ramp stops at its first step over the limits
  --viewers-duration S       seconds measured at each step (default 10, after 3 s of warm-up)
  --viewers-warmup S         seconds after adding viewers before measuring (default 3)
  --skip-viewers             only the join latency, placement and failover sections
  --viewers-only             only the webinar section
  -h, --help                 this text

Progress goes to stderr; stdout gets the tables, a summary block, then one line of JSON.
`;

const KEY_PREFIX = 'rt-bench';
/** Rooms kept open (one client each) for the joins to existing rooms. */
const EXISTING_ROOMS = 6;
const WARM_UP_JOINS = 10;
/** A target that does not answer is given up after this long; the join starts over from its entry. */
const CONNECT_TIMEOUT_MS = 2_000;
/** As the browser's reconnection (and the integration test's joinThrough): a moment before starting over. */
const RETRY_MS = 250;

interface Joined {
  client: TestClient;
  node: ClusterNode;
  hops: number;
  retries: number;
  ms: number;
}

async function main(signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      nodes: { type: 'string', default: '3' },
      joins: { type: 'string', default: '200' },
      rooms: { type: 'string', default: '60' },
      kills: { type: 'string', default: '5' },
      'lease-ms': { type: 'string', default: '3000' },
      'viewers-nodes': { type: 'string', default: VIEWERS_DEFAULTS.nodeCounts },
      'cluster-viewers': { type: 'string', default: VIEWERS_DEFAULTS.steps },
      'viewers-duration': { type: 'string', default: '10' },
      'viewers-warmup': { type: 'string', default: '3' },
      'skip-viewers': { type: 'boolean', default: false },
      'viewers-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const nodeCount = positiveInt('nodes', values.nodes);
  const joins = positiveInt('joins', values.joins);
  const roomCount = positiveInt('rooms', values.rooms);
  const kills = nodeCount > 1 ? positiveInt('kills', values.kills) : 0;
  const leaseMs = Math.max(1_000, positiveInt('lease-ms', values['lease-ms']));
  if (values['skip-viewers'] && values['viewers-only']) throw new UsageError('--skip-viewers and --viewers-only leave nothing to run');
  const directory = !values['viewers-only'];
  const viewers = values['skip-viewers']
    ? undefined
    : {
        nodeCounts: increasingIntList('viewers-nodes', values['viewers-nodes']),
        steps: increasingIntList('cluster-viewers', values['cluster-viewers']),
        durationSeconds: positiveNumber('viewers-duration', values['viewers-duration']),
        warmupSeconds: nonNegativeNumber('viewers-warmup', values['viewers-warmup']),
      };
  const out = (text: string): boolean => process.stdout.write(`${text}\n`);

  const machine = machineInfo();
  out(machineLine(machine));
  if (directory) out(`note: redis-server, ${nodeCount === 1 ? 'the node' : `all ${nodeCount} nodes`} and the clients share this machine's ${machine.cpus} cores`);
  const results: Partial<ClusterResults> & { viewers?: ViewersResults } = {};
  const summary: string[] = [];
  if (directory) {
    const measured = await measureDirectory(signal, { nodeCount, joins, roomCount, kills, leaseMs }, out);
    Object.assign(results, measured);
    summary.push(...summaryLines(measured));
  }
  if (viewers && !signal.aborted) {
    const cleanup = new Cleanup(TOOL);
    try {
      const redis = await startRedis();
      cleanup.add('redis-server', () => redis.stop());
      results.viewers = await measureViewers(TOOL, viewers, redis, signal, out, machine.cpus);
      summary.push(...viewersSummaryLines(results.viewers));
    } finally {
      await cleanup.run();
    }
  }
  out(`\nSummary:\n${summary.join('\n')}`);
  const json = { tool: TOOL, machine, ...results, ...(results.viewers ? { viewers: viewersJson(results.viewers) } : {}) };
  out(JSON.stringify(json, (_key, value: unknown) => (typeof value === 'number' ? round(value, 2) : value)));
  return signal.aborted ? 130 : 0;
}

interface DirectoryOptions {
  nodeCount: number;
  joins: number;
  roomCount: number;
  kills: number;
  leaseMs: number;
}

/** Sections 1-3: node processes and signaling clients, no media. */
async function measureDirectory(signal: AbortSignal, { nodeCount, joins, roomCount, kills, leaseMs }: DirectoryOptions, out: (text: string) => boolean): Promise<ClusterResults> {
  const interrupted = (): void => {
    if (signal.aborted) throw new ToolError('interrupted');
  };
  const machine = machineInfo();

  const cleanup = new Cleanup(TOOL);
  const open = new Set<TestClient>();
  cleanup.add('the clients', () => open.forEach((client) => client.close()));
  try {
    const redis = await startRedis();
    cleanup.add('redis-server', () => redis.stop());
    const store = redis.client();
    const nodes = await Promise.all(Array.from({ length: nodeCount }, (_, i) => startNode(cleanup, { nodeId: `node-${i + 1}`, redisUrl: redis.url, leaseMs, keyPrefix: KEY_PREFIX })));
    progress(TOOL, `redis-server and ${nodeCount} node${nodeCount === 1 ? '' : 's'} up (lease ${leaseMs} ms)`);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

    /** Joins through `entry`, following redirects; a dead target or a room not placeable yet starts over from `entry`. */
    const join = async (entry: ClusterNode, roomId: string, deadlineMs = 4 * leaseMs + 5_000): Promise<Joined> => {
      const started = performance.now();
      let target = entry.url;
      let redirect: string | undefined;
      let [hops, retries] = [0, 0];
      while (performance.now() - started < deadlineMs) {
        interrupted();
        const client = await TestClient.connect(target, { timeoutMs: CONNECT_TIMEOUT_MS }).catch(() => undefined);
        if (client) {
          open.add(client);
          const reply = await client.send('join', { roomId, displayName: 'Bench', ...(redirect ? { redirect } : {}) }).catch(() => undefined);
          if (reply?.ok) {
            const node = nodes.find((n) => n.url === target);
            if (!node) throw new ToolError(`${roomId} was served at ${target}, which is none of the nodes`);
            return { client, node, hops, retries, ms: performance.now() - started };
          }
          client.close();
          open.delete(client);
          if (reply && !reply.ok && reply.error.code === 'WRONG_NODE' && reply.error.redirect) {
            ({ url: target, token: redirect } = reply.error.redirect);
            hops += 1;
            continue;
          }
          if (reply && !reply.ok && reply.error.code !== 'CLUSTER_UNAVAILABLE') throw new ToolError(`join ${roomId} refused: ${reply.error.code} ${reply.error.message}`);
        }
        retries += 1;
        await sleepFor(RETRY_MS);
        [target, redirect] = [entry.url, undefined];
      }
      throw new ToolError(`no node served ${roomId} within ${deadlineMs} ms`);
    };
    const leave = ({ client }: Joined): void => {
      client.close();
      open.delete(client);
    };

    // 1. Join latency to new rooms, each through a random node (after a few joins to warm the nodes up).
    for (let i = 0; i < WARM_UP_JOINS; i++) leave(await join(pick(nodes), `warm-${i}`));
    const fresh: Joined[] = [];
    for (let i = 0; i < joins; i++) {
      const joined = await join(pick(nodes), `new-${i}`);
      leave(joined);
      fresh.push(joined);
    }
    const served = fresh.filter((j) => j.hops === 0).map((j) => j.ms);
    const redirected = fresh.filter((j) => j.hops > 0).map((j) => j.ms);
    const freshRows: LatencyRow[] = [latencyRow('new room, 0 hops', served, fresh.length), latencyRow('new room, 1+ hops', redirected, fresh.length)];

    // ... and to existing rooms (one client kept in each): through the owner, and through a node that is not.
    const holders: Joined[] = [];
    for (let i = 0; i < EXISTING_ROOMS; i++) holders.push(await join(pick(nodes), `existing-${i}`));
    const direct: number[] = [];
    const routed: number[] = [];
    for (let i = 0; i < joins; i++) {
      const holder = holders[i % holders.length]!;
      const others = nodes.filter((n) => n !== holder.node);
      for (const entry of others.length > 0 ? [holder.node, pick(others)] : [holder.node]) {
        const joined = await join(entry, `existing-${i % holders.length}`);
        leave(joined);
        const hops = entry === holder.node ? 0 : 1;
        if (joined.hops !== hops || joined.node !== holder.node) throw new ToolError(`a join to an existing room took ${joined.hops} hops to ${joined.node.nodeId}`);
        (hops === 0 ? direct : routed).push(joined.ms);
      }
    }
    holders.forEach(leave);
    const existing = [latencyRow('existing room, 0 hops', direct, direct.length), ...(routed.length ? [latencyRow('existing room, 1 hop', routed, routed.length)] : [])];
    out(`\nJoin latency through the directory (connect start to join reply, redirects included; ${joins} joins per kind):`);
    out(latencyTable([...freshRows, ...existing]));
    out(
      nodeCount === 1
        ? 'one node: every join is served where it arrives (the single-node baseline)'
        : '0-hop rows are the baseline (served where they arrived, as on one node); a new room also creates its router and claims its lease',
    );

    // 2. Placement: rooms of 2 clients, each client through a random node, all kept until counted.
    progress(TOOL, `opening ${roomCount} rooms of 2 clients`);
    const placed: Joined[] = [];
    const openedAt = performance.now();
    for (let i = 0; i < roomCount; i++) {
      const first = await join(pick(nodes), `placed-${i}`);
      placed.push(first, await join(pick(nodes), `placed-${i}`));
    }
    const placement: PlacementRow[] = nodes.map((node) => ({
      nodeId: node.nodeId,
      rooms: placed.filter((j, i) => i % 2 === 0 && j.node === node).length,
      peers: placed.filter((j) => j.node === node).length,
    }));
    placed.forEach(leave);
    const openingS = (performance.now() - openedAt) / 1000;
    out(`\nPlacement of ${roomCount} rooms x 2 clients opened one after another through random nodes in ${openingS.toFixed(1)} s`);
    out(`(load = a node's peers, as its last heartbeat wrote it: every ${Math.floor(leaseMs / 6)} ms):`);
    out(placementTable(placement));

    // 3. Failover: kill -9 the owner of a room with one client, join through a survivor, restart the node.
    const failover: FailoverRow[] = [];
    for (let round = 1; round <= kills; round++) {
      interrupted();
      const roomId = `failover-${round}`;
      const first = await join(pick(nodes), roomId);
      const owner = first.node;
      const killedAt = performance.now();
      await owner.kill();
      leave(first);
      const again = await join(pick(nodes.filter((n) => n !== owner)), roomId);
      const gapMs = performance.now() - killedAt;
      leave(again);
      failover.push({ round, killed: owner.nodeId, servedBy: again.node.nodeId, hops: again.hops, retries: again.retries, gapMs });
      progress(TOOL, `kill ${round}: ${owner.nodeId} killed, ${roomId} served by ${again.node.nodeId} after ${Math.round(gapMs)} ms; restarting ${owner.nodeId}`);
      await owner.restart();
      await registered(store, owner.nodeId, signal);
    }
    if (kills > 0) {
      out(`\nFailover gap: kill -9 of the owner until a join through a survivor is served by the new owner (lease ${leaseMs} ms; production default 10 s):`);
      out(failoverTable(failover));
    } else out('\nFailover gap: skipped (needs 2 nodes or more)');

    return { machine, nodes: nodeCount, leaseMs, fresh: freshRows, existing, placement, placementSeconds: openingS, failover };
  } finally {
    await cleanup.run();
  }
}

/**
 * ClusterNode.start, except that the node goes into `cleanup` before its process is awaited: a node
 * that fails to start (or a Ctrl-C meanwhile) is stopped and its data directory removed too.
 */
async function startNode(cleanup: Cleanup, options: Omit<ClusterNodeOptions, 'env'>): Promise<ClusterNode> {
  const env = {
    ROUNDTABLE_JOINS_PER_MINUTE: '100000',
    ROUNDTABLE_ROOM_CREATIONS_PER_MINUTE: '100000',
    ROUNDTABLE_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    ROUNDTABLE_SHUTDOWN_DEADLINE_MS: '2000',
  };
  const node = await ClusterNode.prepare({ ...options, env });
  cleanup.add(options.nodeId, () => node.stop());
  await node.restart();
  return node;
}

/** Waits until the node's record is in the store again (what the other nodes read to route to it). */
async function registered(store: Redis, nodeId: string, signal: AbortSignal): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && !signal.aborted; await sleepFor(50)) {
    const [expiresAt, record] = await Promise.all([store.zscore(`${KEY_PREFIX}:nodes`, nodeId), store.exists(`${KEY_PREFIX}:node:${nodeId}`)]);
    if (record && Number(expiresAt) > Date.now()) return;
  }
  if (!signal.aborted) throw new ToolError(`${nodeId} did not register again within 10 s`);
}

await runTool(TOOL, USAGE, main);
