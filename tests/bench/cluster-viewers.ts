/**
 * The cluster bench's webinar section: how many viewers a webinar keeps at < 1 % loss with 1, 2 and 3
 * nodes. For each node count: a redis-server (shared by the rounds, one key prefix each), N Roundtable
 * servers in this process (one mediasoup worker each, cluster mode, real Socket.IO), and bench:broadcast's
 * machinery: an ffmpeg-fed synthetic speaker and synthetic SRTP viewers on PlainTransports, counted by
 * the RTP sink in its own process.
 *
 * The webinar is made as a browser would: `createWebinar` on node-1, the host joins with the host key
 * (following WRONG_NODE), which places the room and makes that node its origin. The speaker's
 * producers are handed to the host's peer there, so the origin treats them as the stage. Each other
 * node opens its edge room by one real viewer join through it with the audience key: the edge links
 * to the origin over `/cluster` and one SRTP PipeTransport, and the stage is piped in once. Synthetic
 * viewers then consume the stage's producers in each node's live room, split evenly over every node,
 * the origin included (a viewer who arrives at the origin is sent to a less loaded node, so a real
 * audience spreads the same way).
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { types } from 'mediasoup';
import type { JoinReply, WebinarKeys } from '../../shared/index.ts';
import type { WorkerPool } from '../../sfu/src/media/WorkerPool.ts';
import type { Peer, PeerProducer } from '../../sfu/src/rooms/Peer.ts';
import type { Room } from '../../sfu/src/rooms/Room.ts';
import { TestClient } from '../helpers/client.ts';
import { freePort } from '../helpers/entry-point.ts';
import type { RedisServer } from '../helpers/redis.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { capacity, limitsExceeded, rampProgressLine } from './broadcast-report.ts';
import { Cleanup } from './cleanup.ts';
import { DEFAULT_SINK, DEFAULT_SRTP, ToolError, describeSrtp, progress, sleep, srtpSuiteOf } from './cli.ts';
import { type ClusterRampStep, type ViewersResults, type ViewersRound, clusterRampColumns, roundLine } from './cluster-viewers-report.ts';
import { FfmpegSource, requireFfmpeg } from './ffmpeg-source.ts';
import type { SnapshotSources } from './forwarding-sampler.ts';
import { type HoldResult, holdLoad } from './hold.ts';
import { RtpSink } from './rtp-sink.ts';
import { createPublisher, waitForIngress } from './synthetic-publisher.ts';
import { ReceiverFleet } from './synthetic-receivers.ts';
import { tableHeader, tableRow } from './table.ts';

export interface ViewersOptions {
  /** Node counts, one round each (default 1, 2, 3). */
  nodeCounts: number[];
  /** Total viewers at each ramp step, increasing. */
  steps: number[];
  durationSeconds: number;
  warmupSeconds: number;
}

export const VIEWERS_DEFAULTS = { nodeCounts: '1,2,3', steps: '250,500,750,1000,1250' } as const;

/** As bench:broadcast: 720p VP8 at 1 Mbit/s and Opus, viewers set up 16 at a time, 100 per sink socket. */
const CLIP = { width: 1280, height: 720, fps: 30, videoKbps: 1000 };
const CONCURRENCY = 16;
const RECEIVERS_PER_SOCKET = 100;
const SINK_RECEIVE_BUFFER = 8 * 1024 * 1024;
const INGRESS_TIMEOUT_MS = 10_000;
const SRTP = DEFAULT_SRTP;
/** Each node's worker takes its PlainTransport and PipeTransport ports from its own range. */
const PORT_BASE = 40_000;
const PORTS_PER_NODE = 3_000;
const SECRET = `bench-cluster-viewers-${randomBytes(16).toString('hex')}`;
/** Production's lease: the nodes share a busy machine, and a short lease would fence rooms under load. */
const LEASE_MS = 10_000;

interface Node {
  nodeId: string;
  sfu: TestServer;
}

/** The rounds, one per node count; each round's servers, sink and ffmpeg are gone before the next starts. */
export async function measureViewers(
  tool: string,
  options: ViewersOptions,
  redis: RedisServer,
  signal: AbortSignal,
  out: (text: string) => void,
  cpus: number,
): Promise<ViewersResults> {
  const ffmpegVersion = requireFfmpeg(true);
  const maxNodes = Math.max(...options.nodeCounts);
  const maxViewers = options.steps[options.steps.length - 1]!;
  if (maxViewers + 8 > PORTS_PER_NODE) throw new ToolError(`--cluster-viewers above ${PORTS_PER_NODE - 8} need more UDP ports than a node's range holds`);
  const results: ViewersResults = { cpus, split: 'viewers split evenly over all nodes, the origin included', rounds: [] };
  out(
    `\nWebinar viewers on 1 to ${maxNodes} nodes (in-process servers, 1 mediasoup worker each; ${results.split}; ` +
      `VP8 ${CLIP.width}x${CLIP.height}@${CLIP.fps} ${CLIP.videoKbps} kbps + Opus from ffmpeg; ${describeSrtp(SRTP)}; ` +
      `${options.warmupSeconds} s warm-up, ${options.durationSeconds} s measured per step; the nodes, redis-server, ffmpeg and the RTP sink share this machine's ${cpus} cores):`,
  );
  out(`(${ffmpegVersion}; "worker cpu %/node" and "cons/node" are node-1/node-2/...; a ramp stops at its first step over the limits)`);
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  for (const nodeCount of options.nodeCounts) {
    if (signal.aborted) break;
    const round = new Cleanup(tool);
    try {
      const measured = await runRound(tool, options, nodeCount, `rt-bench-viewers-${runId}-n${nodeCount}`, redis, signal, out, round);
      if (measured) results.rounds.push(measured);
    } finally {
      await round.run();
    }
  }
  return results;
}

async function runRound(
  tool: string,
  options: ViewersOptions,
  nodeCount: number,
  keyPrefix: string,
  redis: RedisServer,
  signal: AbortSignal,
  out: (text: string) => void,
  cleanup: Cleanup,
): Promise<ViewersRound | undefined> {
  const maxViewers = options.steps[options.steps.length - 1]!;
  let fatal: Error | undefined;
  const fail = (error: Error): void => {
    fatal ??= error;
  };
  progress(tool, `webinar on ${nodeCount} node${nodeCount === 1 ? '' : 's'}: starting the RTP sink and the servers`);
  const sink = await RtpSink.open(Math.ceil(maxViewers / RECEIVERS_PER_SOCKET), SINK_RECEIVE_BUFFER, fail, DEFAULT_SINK);
  cleanup.add(`the RTP sink (pids ${sink.pids.join(', ')})`, () => sink.close());

  const nodes: Node[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const nodeId = `node-${i + 1}`;
    const port = await freePort();
    const sfu = await startTestServer({
      http: { host: '127.0.0.1', port, staticDir: '' },
      admin: { port: 0 },
      workers: { count: 1 },
      rtc: { listenIp: '127.0.0.1', basePort: 0, minPort: PORT_BASE + i * PORTS_PER_NODE, maxPort: PORT_BASE + (i + 1) * PORTS_PER_NODE - 1 },
      limits: { connectionsPerAddress: 100_000, joinsPerMinute: 100_000, roomCreationsPerMinute: 100_000 },
      shutdown: { deadlineMs: 2_000 },
      cluster: { redisUrl: redis.url, secret: SECRET, publicUrl: `http://127.0.0.1:${port}`, keyPrefix, nodeId, leaseMs: LEASE_MS },
    });
    cleanup.add(nodeId, () => sfu.close());
    sfu.server.pool.on('workerDied', (index, error) => fail(new ToolError(`${nodeId}: mediasoup worker ${index} died (${error.message}); stopping`)));
    nodes.push({ nodeId, sfu });
  }
  const nodeAt = (url: string): Node => {
    const node = nodes.find((n) => n.sfu.url === url);
    if (!node) throw new ToolError(`${url} is none of the nodes`);
    return node;
  };

  const clients: TestClient[] = [];
  cleanup.add('the signaling clients', () => clients.forEach((client) => client.close()));
  const creator = await TestClient.connect(nodes[0]!.sfu.url);
  const webinar = await creator.ok('createWebinar', {});
  creator.close();

  // The host joins through node-1, following WRONG_NODE as the browser does: its node is the origin.
  const host = await joinFollowing(nodes[0]!.sfu.url, webinar, 'Bench host', webinar.hostKey, clients);
  if (host.reply.role !== 'host') throw new ToolError(`the host link joined as ${host.reply.role}`);
  const origin = nodeAt(host.url);
  const originRoom = liveRoom(origin, webinar.roomId);
  const hostPeer = originRoom.peers.get(host.reply.peerId);
  if (!hostPeer) throw new ToolError(`the host's peer is not in the room on ${origin.nodeId}`);

  // The synthetic speaker, as the host's camera and microphone on the origin: the stage.
  const publisher = await createPublisher(hostPeer.router, true, { keyframeRequests: true });
  cleanup.add('the publisher', () => publisher.close());
  const video = publisher.producers.find((producer) => producer.kind === 'video')!;
  const producers = [video, ...publisher.producers.filter((producer) => producer !== video)];
  for (const producer of producers) await putOnStage(originRoom, hostPeer, producer);
  const producerIds = producers.map((producer) => producer.id);
  const plannedSeconds = options.steps.length * (options.warmupSeconds + options.durationSeconds + 60) + 120;
  const ffmpeg = FfmpegSource.start({ video: publisher.video, ...(publisher.audio ? { audio: publisher.audio } : {}), ...CLIP, videoBitrate: CLIP.videoKbps * 1000, maxSeconds: plannedSeconds });
  cleanup.add('ffmpeg', () => ffmpeg.stop());

  // Each other node opens its edge room through one real viewer join there, with the audience key.
  const edges = nodes.filter((node) => node !== origin);
  for (const edge of edges) {
    const viewer = await joinFollowing(edge.sfu.url, webinar, `Bench viewer ${edge.nodeId}`, webinar.audienceKey, clients);
    if (viewer.url !== edge.sfu.url) throw new ToolError(`a viewer joining through ${edge.nodeId} was sent to ${nodeAt(viewer.url).nodeId}: not served as an edge`);
    if (viewer.reply.role !== 'viewer') throw new ToolError(`the audience link joined ${edge.nodeId} as ${viewer.reply.role}`);
    await piped(liveRoom(edge, webinar.roomId), producerIds, signal);
  }
  const rooms = nodes.map((node) => ({ node, room: liveRoom(node, webinar.roomId) }));
  const healthy = (): void => {
    const failure = ffmpeg.failure();
    if (failure) throw new ToolError(failure);
    if (fatal) throw fatal;
    for (const { node, room } of rooms) {
      if (room.closed) throw new ToolError(`the webinar's room on ${node.nodeId} closed (${node === origin ? 'origin' : 'edge link lost'}); stopping`);
    }
  };
  if (!(await waitForIngress(publisher.producers, INGRESS_TIMEOUT_MS, signal, healthy))) return undefined;

  // What the nodes themselves say: the origin pipes to each edge once; each edge has the stage's producers.
  const originHealth = await health(origin);
  const originPipesTo = [...(originHealth.cluster?.edges?.[webinar.roomId] ?? [])].sort();
  const pipedProducers: Record<string, number> = {};
  for (const edge of edges) pipedProducers[edge.nodeId] = (await health(edge)).cluster?.edgeRooms?.[webinar.roomId]?.pipedProducers ?? 0;
  progress(
    tool,
    `origin ${origin.nodeId} (worker pid ${origin.sfu.server.pool.loads()[0]?.pid}) pipes to [${originPipesTo.join(', ')}]` +
      (edges.length ? `; producers piped in: ${edges.map((e) => `${e.nodeId} ${pipedProducers[e.nodeId]}`).join(', ')}` : '') +
      `; sink pids ${sink.pids.join(', ')}; ffmpeg pid ${ffmpeg.pid}`,
  );

  // Viewers round-robin over the nodes (node-1 first): each consumes the stage in that node's live room.
  const fleet = new ReceiverFleet(
    rooms.map(({ node, room }) => ({ router: node === origin ? hostPeer.router : room.routers.main, producerIds })),
    sink,
    srtpSuiteOf(SRTP),
  );
  cleanup.add('the viewers', () => fleet.close());
  // One worker per node: the nodes' pools side by side read as one pool of N workers, in node order.
  const pools = { loads: () => nodes.flatMap((node) => node.sfu.server.pool.loads()) } as unknown as WorkerPool;
  const sources: SnapshotSources = { pool: pools, sink, producers: publisher.producers, ffmpegPid: ffmpeg.pid };
  const hold = (seconds: number, phase: string): Promise<HoldResult | undefined> =>
    holdLoad(sources, seconds, signal, healthy, (tick, ticks, rates) => progress(tool, `${nodeCount}n ${rampProgressLine(`${phase} ${tick}/${ticks} s`, fleet.receivers, rates)}`));

  const columns = clusterRampColumns();
  out(`\n${nodeCount} node${nodeCount === 1 ? '' : 's'}: origin ${origin.nodeId}${edges.length ? `, edges ${edges.map((e) => e.nodeId).join(', ')}` : ''}`);
  out(tableHeader(columns));
  const steps: ClusterRampStep[] = [];
  for (const [index, target] of options.steps.entries()) {
    progress(tool, `${nodeCount} node(s), step ${index + 1}/${options.steps.length}: ${target} viewers`);
    let lastReport = performance.now();
    await fleet.growTo(target, CONCURRENCY, signal, (done) => {
      if (performance.now() - lastReport < 1000) return;
      lastReport = performance.now();
      progress(tool, `adding viewers ${done}/${target}`);
    });
    if (signal.aborted) break;
    healthy();
    if (options.warmupSeconds > 0 && !(await hold(options.warmupSeconds, 'warm-up'))) break;
    const lostBefore = await inboundLost(rooms, producerIds);
    const measured = await hold(options.durationSeconds, 'measure');
    if (!measured) break;
    const lostAfter = await inboundLost(rooms, producerIds);
    const step: ClusterRampStep = {
      ...measured.rates,
      viewers: fleet.receivers,
      viewersPerNode: nodes.map((_, i) => share(fleet.receivers, nodeCount, i)),
      inboundLostPerNode: lostAfter.map((lost, i) => lost - lostBefore[i]!),
      consumersPerViewer: producerIds.length,
      consumersPerWorker: measured.last.loads.map((load) => load.consumers),
      producersPerWorker: measured.last.loads.map((load) => load.producers),
    };
    steps.push(step);
    out(tableRow(columns, step));
    // Capacity counts up to the first step over the limits: the steps above it would only take longer.
    if (limitsExceeded(step).length > 0) break;
  }
  // Short of the last step without a failing one: interrupted.
  const last = steps[steps.length - 1];
  const stoppedEarly = steps.length < options.steps.length && (!last || limitsExceeded(last).length === 0);
  const result: ViewersRound = {
    nodes: nodeCount,
    origin: origin.nodeId,
    edges: edges.map((e) => e.nodeId),
    originPipesTo,
    pipedProducers,
    steps,
    capacity: capacity(steps),
    stoppedEarly,
  };
  out(roundLine(result));
  return result;
}

/**
 * Per node, the packets its copies of the stage's producers have lost on the way in, so far: at the
 * origin from ffmpeg, at an edge on the pipe from the origin (mediasoup's inbound stats, from gaps).
 */
async function inboundLost(rooms: readonly { room: Room }[], producerIds: readonly string[]): Promise<number[]> {
  return Promise.all(
    rooms.map(async ({ room }) => {
      let lost = 0;
      for (const peer of room.peers.values()) {
        for (const producer of peer.producers.values()) {
          if (!producerIds.includes(producer.id) || producer.closed) continue;
          for (const stat of await producer.getStats()) lost += stat.packetsLost;
        }
      }
      return lost;
    }),
  );
}

/** Viewers on the i-th of n nodes when `total` go round-robin from the first. */
function share(total: number, n: number, i: number): number {
  return i < total ? Math.floor((total - i - 1) / n) + 1 : 0;
}

function liveRoom(node: Node, roomId: string): Room {
  const room = node.sfu.server.registry.get(roomId);
  if (!room || room.closed) throw new ToolError(`${node.nodeId} has no live room ${roomId}`);
  return room;
}

/**
 * Joins through `url`, following WRONG_NODE redirects; the client stays open (in `clients`) so its
 * peer keeps the room (the host) or the edge (a viewer) open.
 */
async function joinFollowing(url: string, webinar: WebinarKeys, displayName: string, key: string, clients: TestClient[]): Promise<{ url: string; reply: JoinReply }> {
  let target = url;
  let redirect: string | undefined;
  for (let hops = 0; hops < 4; hops++) {
    const client = await TestClient.connect(target, { timeoutMs: 5_000 });
    clients.push(client);
    const reply = await client.send('join', { roomId: webinar.roomId, displayName, key, ...(redirect ? { redirect } : {}) });
    if (reply.ok) return { url: target, reply: reply.data };
    client.close();
    if (reply.error.code !== 'WRONG_NODE' || !reply.error.redirect) throw new ToolError(`${displayName}: join refused: ${reply.error.code} ${reply.error.message}`);
    ({ url: target, token: redirect } = reply.error.redirect);
  }
  throw new ToolError(`${displayName}: more than 3 redirects`);
}

/**
 * Hands a producer made outside signaling (the synthetic speaker's PlainTransport) to the host's
 * peer, as its camera or microphone: the room (and so every edge link) sees it as the stage's.
 */
async function putOnStage(room: Room, host: Peer, producer: types.Producer): Promise<void> {
  const staged = producer as PeerProducer;
  staged.appData = { peerId: host.id, source: producer.kind === 'video' ? 'camera' : 'microphone' };
  await room.addRemoteProducer(host, staged);
}

/** Waits until every stage producer is in the edge room (piped in from the origin). */
async function piped(room: Room, producerIds: readonly string[], signal: AbortSignal): Promise<void> {
  const has = (id: string): boolean => [...room.peers.values()].some((peer) => peer.producers.has(id));
  for (const deadline = performance.now() + 10_000; !producerIds.every(has); await sleep(100, signal)) {
    if (signal.aborted) return;
    if (performance.now() > deadline) throw new ToolError(`the stage's producers did not reach the edge room ${room.id} within 10 s`);
  }
}

interface NodeHealth {
  cluster?: { edges?: Record<string, string[]>; edgeRooms?: Record<string, { pipedProducers: number }> };
}

async function health(node: Node): Promise<NodeHealth> {
  const response = await fetch(`${node.sfu.server.adminUrl()}/healthz`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as NodeHealth;
}
