/**
 * Readings of an in-process server for the soak run: the Node process (RSS, heap after GC,
 * event-loop delay, handles, file descriptors), the mediasoup workers (their routers' dumps, the
 * objects each worker holds, their RSS from /proc) and the server's RoomRegistry.
 *
 * Routers are found through mediasoup's global observer rather than through the rooms, so a router
 * that no room holds any more (the leak one is looking for) is still dumped and counted.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { RoundtableServer } from '../../sfu/src/server.ts';
import type { SoakSample } from './soak-report.ts';

const MiB = 1024 * 1024;

type RouterDump = types.RouterDump;
type WorkerDump = types.WorkerDump;

/** VmRSS of a process in MiB; 0 once it is gone. */
export function processRssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export class SoakSampler {
  readonly #routers = new Set<types.Router>();
  readonly #loopDelay: IntervalHistogram;
  readonly #gc: (() => void) | undefined;
  readonly #onNewWorker = (worker: types.Worker): void => {
    worker.observer.on('newrouter', (router) => {
      this.#routers.add(router);
      router.observer.once('close', () => this.#routers.delete(router));
    });
  };

  /** Call before the server starts, so that every worker and router it makes is seen. */
  constructor() {
    mediasoup.observer.on('newworker', this.#onNewWorker);
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.#loopDelay.enable();
    this.#gc = (globalThis as { gc?: () => void }).gc;
  }

  /** False when node runs without --expose-gc: heap figures then include garbage and are noisy. */
  get collectsGarbage(): boolean {
    return this.#gc !== undefined;
  }

  /** Reads everything; the event-loop histogram restarts, so each sample covers its own interval. */
  async sample(server: RoundtableServer, elapsedSeconds: number, joins: number): Promise<SoakSample> {
    const loopDelayP99Ms = this.#loopDelay.percentile(99) / 1e6;
    const loopDelayMaxMs = this.#loopDelay.max / 1e6;
    this.#loopDelay.reset();

    const workerDumps: WorkerDump[] = await server.pool.dump();
    const routerDumps: RouterDump[] = await Promise.all([...this.#routers].filter((r) => !r.closed).map((r) => r.dump()));
    const count = (pick: (dump: RouterDump) => number) => routerDumps.reduce((sum, dump) => sum + pick(dump), 0);

    this.#gc?.();
    const memory = process.memoryUsage();
    const rooms = server.registry.rooms();
    return {
      elapsedSeconds,
      joins,
      rssMiB: memory.rss / MiB,
      heapUsedMiB: memory.heapUsed / MiB,
      loopDelayP99Ms: Number.isFinite(loopDelayP99Ms) ? loopDelayP99Ms : 0,
      loopDelayMaxMs: Number.isFinite(loopDelayMaxMs) ? loopDelayMaxMs : 0,
      handles: process.getActiveResourcesInfo().length,
      fds: readdirSync('/proc/self/fd').length,
      routers: workerDumps.reduce((sum, dump) => sum + dump.routerIds.length, 0),
      transports: count((dump) => dump.transportIds.length),
      producers: count((dump) => dump.mapProducerIdConsumerIds.length),
      consumers: count((dump) => dump.mapConsumerIdProducerId.length),
      dataProducers: count((dump) => dump.mapDataProducerIdDataConsumerIds.length),
      rtpObservers: count((dump) => dump.rtpObserverIds.length),
      workerObjects: workerDumps.reduce((sum, dump) => sum + dump.channelMessageHandlers.channelRequestHandlers.length, 0),
      rooms: rooms.length,
      peers: rooms.reduce((sum, room) => sum + room.peers.size, 0),
      workersRssMiB: server.pool.loads().reduce((sum, load) => sum + processRssMiB(load.pid), 0),
    };
  }

  /** What kinds of handles are open now, most numerous first (to say what grew). */
  static handleKinds(): string {
    const kinds = new Map<string, number>();
    for (const kind of process.getActiveResourcesInfo()) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    return [...kinds].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ');
  }

  close(): void {
    this.#loopDelay.disable();
    mediasoup.observer.off('newworker', this.#onNewWorker);
  }
}
