import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';
import type { Logger } from '../logger.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { engineInfo } from './engine-info.ts';

export interface WorkerLoad {
  index: number;
  pid: number;
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
}

interface PooledWorker {
  worker: types.Worker;
  load: WorkerLoad;
  /** Single-port mode: the worker's one UDP and one TCP socket, shared by all its WebRTC transports. */
  webRtcServer: types.WebRtcServer | undefined;
}

const REPLACE_FIRST_DELAY_MS = 100;
const REPLACE_MAX_DELAY_MS = 10_000;

/** Where a worker listens in single-port mode; undefined in port-range mode. */
export type WebRtcServerPlan = (workerIndex: number) => types.WebRtcServerOptions | undefined;

type WorkerPoolEvents = {
  /** After mediasoup closed everything the worker held; a replacement is being spawned in its slot. */
  workerDied: [index: number, error: Error, dead: types.Worker];
  /** The slot has a live worker again (same index, so the same WebRtcServer port). */
  workerReplaced: [index: number, worker: types.Worker];
};
/** `workerPid` tells routers of a dead worker from those of its replacement, which reuses the index. */
export type RouterAppData = { workerIndex: number; workerPid: number };
export type PooledRouter = types.Router<RouterAppData>;

/**
 * Owns the mediasoup workers (one process each, one CPU core each). Counts what lives on every worker
 * from mediasoup's observers, so new routers go to the worker with the least media work, and replaces
 * a worker that dies.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #slots: PooledWorker[] = [];
  readonly #settings: types.WorkerSettings;
  readonly #logger: Logger;
  readonly #serverPlan: WebRtcServerPlan;
  /** Router requests waiting for a live worker while every worker is dead. */
  readonly #waiting = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  #closed = false;

  private constructor(settings: types.WorkerSettings, serverPlan: WebRtcServerPlan, logger: Logger) {
    super();
    this.#settings = settings;
    this.#serverPlan = serverPlan;
    this.#logger = logger;
  }

  static async create(config: Config, logger: Logger, serverPlan: WebRtcServerPlan = () => undefined): Promise<WorkerPool> {
    const pool = new WorkerPool(
      { logLevel: config.workers.logLevel, rtcMinPort: config.rtc.minPort, rtcMaxPort: config.rtc.maxPort },
      serverPlan,
      logger.child({ component: 'workers' }),
    );
    try {
      for (let index = 0; index < config.workers.count; index++) await pool.#spawn(index);
      const first = pool.#slots[0];
      if (first) pool.#logger.info(await engineInfo(first.worker), 'media engine');
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.#slots.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live workers (a dead one is absent until its replacement is up). */
  workers(): types.Worker[] {
    return this.#live().map((slot) => slot.worker);
  }

  loads(): WorkerLoad[] {
    return this.#slots.map((slot) => ({ ...slot.load }));
  }

  /**
   * A router on the given worker, or else on the worker doing the least media work (consumers weigh
   * most: they are what is forwarded). Its appData says which worker it lives on.
   */
  async createRouter(mediaCodecs: types.RouterRtpCodecCapability[], workerIndex?: number): Promise<PooledRouter> {
    if (workerIndex === undefined && this.#live().length === 0) await this.#anyReplaced();
    const slot = workerIndex === undefined ? this.#leastLoaded() : this.#slots[workerIndex];
    if (!slot || slot.worker.closed) throw new Error(`no live worker ${workerIndex ?? ''}`.trim());
    return slot.worker.createRouter<RouterAppData>({ mediaCodecs, appData: { workerIndex: slot.load.index, workerPid: slot.worker.pid } });
  }

  /** The least-loaded worker other than those listed (the same measure new rooms are placed by). */
  leastLoadedIndex(excluding: number[] = []): number | undefined {
    return this.#leastLoaded(excluding)?.load.index;
  }

  /** The worker's WebRtcServer (single-port mode), where its routers' WebRTC transports listen. */
  webRtcServerOf(workerIndex: number): types.WebRtcServer | undefined {
    return this.#slots[workerIndex]?.webRtcServer;
  }

  /** The ports each worker's WebRtcServer listens on, as the worker reports them. */
  async listeningPorts(): Promise<Array<{ workerIndex: number; udp: number[]; tcp: number[] }>> {
    return Promise.all(
      this.#slots.map(async (slot) => {
        const live = slot.webRtcServer && !slot.worker.closed;
        const dump = live ? await slot.webRtcServer!.dump() : { udpSockets: [], tcpServers: [] };
        return {
          workerIndex: slot.load.index,
          udp: (dump.udpSockets as Array<{ port: number }>).map((socket) => socket.port),
          tcp: (dump.tcpServers as Array<{ port: number }>).map((server) => server.port),
        };
      }),
    );
  }

  consumersOn(workerIndex: number): number {
    return this.#slots[workerIndex]?.load.consumers ?? 0;
  }

  /** CPU time each worker process has used so far (user + system), in seconds. */
  async cpuSeconds(): Promise<number[]> {
    return Promise.all(
      this.#slots.map(async (slot) => {
        if (slot.worker.closed) return 0; // dead, its replacement not up yet
        const usage = await slot.worker.getResourceUsage();
        return (usage.ru_utime + usage.ru_stime) / 1000;
      }),
    );
  }

  /** Real per-worker state from the live worker processes themselves. */
  async dump(): Promise<types.WorkerDump[]> {
    return Promise.all(this.#live().map((slot) => slot.worker.dump()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Whole workers close: that takes their WebRtcServers and everything else with them. (Closing a
    // WebRtcServer that transports still use crashed the 3.12 worker; fixed upstream in 3.14.5.)
    for (const slot of this.#slots) slot.worker.close();
    for (const waiter of this.#waiting) waiter.reject(new Error('the worker pool is closed'));
    this.#waiting.clear();
  }

  #live(): PooledWorker[] {
    return this.#slots.filter((slot) => !slot.worker.closed);
  }

  /** Resolves when some dead worker has been replaced (every worker is dead: wait for one); rejects if the pool closes first. */
  async #anyReplaced(): Promise<void> {
    if (this.#closed) throw new Error('the worker pool is closed');
    await new Promise<void>((resolve, reject) => this.#waiting.add({ resolve, reject }));
  }

  /** Consumers weigh most: forwarding to them is the work. Dead workers are never chosen. */
  #leastLoaded(excluding: number[] = []): PooledWorker | undefined {
    const score = (load: WorkerLoad) => load.consumers * 4 + load.producers * 2 + load.transports + load.routers;
    const candidates = this.#live().filter((slot) => !excluding.includes(slot.load.index));
    return candidates.reduce<PooledWorker | undefined>((best, slot) => (!best || score(slot.load) < score(best.load) ? slot : best), undefined);
  }

  async #spawn(index: number): Promise<void> {
    const worker = await mediasoup.createWorker(this.#settings);
    const load: WorkerLoad = { index, pid: worker.pid, routers: 0, transports: 0, producers: 0, consumers: 0 };
    let webRtcServer: types.WebRtcServer | undefined;
    const serverOptions = this.#serverPlan(index);
    try {
      if (serverOptions) webRtcServer = await worker.createWebRtcServer(serverOptions);
    } catch (error) {
      worker.close();
      const where = serverOptions?.listenInfos.map((info) => `${info.protocol} ${info.ip}:${info.port ?? 'any'}`).join(', ');
      throw new Error(`worker ${index} cannot listen on ${where}: ${(error as Error).message} (is another server using the port? see rtc.basePort)`);
    }
    this.#slots[index] = { worker, load, webRtcServer };
    this.#track(worker, load);
    worker.on('died', (error) => this.#onDied(index, error));
    this.#logger.info({ index, pid: worker.pid }, 'worker started');
  }

  #track(worker: types.Worker, load: WorkerLoad): void {
    const count = (key: keyof Omit<WorkerLoad, 'index' | 'pid'>, observer: types.Router['observer']) => {
      load[key]++;
      observer.once('close', () => load[key]--);
    };
    worker.observer.on('newrouter', (router) => {
      count('routers', router.observer);
      router.observer.on('newtransport', (transport) => {
        count('transports', transport.observer);
        transport.observer.on('newproducer', (producer) => count('producers', producer.observer));
        transport.observer.on('newconsumer', (consumer) => count('consumers', consumer.observer));
      });
    });
  }

  #onDied(index: number, error: Error): void {
    const dead = this.#slots[index]!.worker;
    this.#logger.error({ index, pid: dead.pid, err: error }, 'worker died; spawning a replacement, its rooms move to live workers');
    if (!this.#closed) void this.#replace(index);
    this.emit('workerDied', index, error, dead);
  }

  /**
   * Spawns a worker in a dead one's slot, retrying with backoff (the port may still be held for a
   * moment, or the machine may be short of memory) until it works or the pool closes. Never throws.
   */
  async #replace(index: number): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        await this.#spawn(index);
        if (this.#closed) this.#slots[index]!.worker.close();
        else {
          this.emit('workerReplaced', index, this.#slots[index]!.worker);
          for (const waiter of this.#waiting) waiter.resolve();
          this.#waiting.clear();
        }
        break;
      } catch (error) {
        const delayMs = Math.min(REPLACE_MAX_DELAY_MS, REPLACE_FIRST_DELAY_MS * 2 ** (attempt - 1));
        this.#logger.error({ index, attempt, delayMs, err: error }, 'cannot replace dead worker yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }
}
