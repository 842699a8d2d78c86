import type { types } from 'mediasoup';
import type { Logger } from '../logger.ts';
import type { PooledRouter, WorkerPool } from '../media/WorkerPool.ts';
import { TypedEmitter } from '../typed-emitter.ts';

type RoomRoutersEvents = {
  /** A router's worker died: mediasoup closed the router and everything on it. */
  lost: [router: PooledRouter, wasMain: boolean];
};

/**
 * A room's routers, one per worker it uses. The room starts on one router; when that worker holds
 * more consumers than the budget, newcomers are placed on a router on the least-loaded other worker,
 * and producers reach them through pipeToRouter (mediasoup keeps one pipe transport pair per router
 * pair, so a pipe is per worker, never per viewer). A router whose worker dies is dropped at once and
 * announced (`lost`); a new main router is chosen with `replaceMain`, and pipes are rebuilt on demand.
 */
export class RoomRouters extends TypedEmitter<RoomRoutersEvents> {
  readonly #byWorker = new Map<number, PooledRouter>();
  /** Pending or done pipes, keyed `producerId>routerId`, so concurrent consumers share one. */
  readonly #pipes = new Map<string, Promise<void>>();
  #main: PooledRouter;
  #closed = false;

  constructor(
    main: PooledRouter,
    private readonly pool: WorkerPool,
    private readonly mediaCodecs: types.RouterRtpCodecCapability[],
    private readonly consumerBudget: number,
    private readonly logger: Logger,
  ) {
    super();
    this.#main = main;
    this.#add(main);
  }

  /** The router speaker detection runs on, and whose capabilities clients load. */
  get main(): PooledRouter {
    return this.#main;
  }

  /** The server is shutting down: its workers close, and no router can replace theirs. */
  get poolClosed(): boolean {
    return this.pool.closed;
  }

  all(): PooledRouter[] {
    return [...this.#byWorker.values()];
  }

  /** Where a newcomer's transports go: the first of the room's routers with room to spare, else a new one. */
  async routerForNewPeer(): Promise<PooledRouter> {
    for (const router of this.#byWorker.values()) {
      if (this.pool.consumersOn(router.appData.workerIndex) < this.consumerBudget) return router;
    }
    const index = this.pool.leastLoadedIndex([...this.#byWorker.keys()]);
    if (index === undefined) {
      // Every live worker already hosts this room: use the least loaded of them.
      const routers = this.all();
      if (routers.length === 0) return this.#grow(undefined);
      return routers.reduce((a, b) =>
        this.pool.consumersOn(b.appData.workerIndex) < this.pool.consumersOn(a.appData.workerIndex) ? b : a,
      );
    }
    return this.#grow(index);
  }

  /**
   * After the main router's worker died: a surviving router of this room becomes main, or else a new
   * one on the least-loaded live worker (waiting for a replacement worker when none is live).
   */
  async replaceMain(): Promise<PooledRouter> {
    if (this.#main.closed) {
      const survivor = this.all()[0];
      this.#main = survivor ?? (await this.#grow(undefined));
      this.logger.info({ workerIndex: this.#main.appData.workerIndex, pid: this.#main.appData.workerPid }, 'room has a new main router');
    }
    return this.#main;
  }

  /** Makes a producer available on `to` (it already lives on `from`). */
  async ensureProducerOn(producerId: string, from: PooledRouter, to: PooledRouter): Promise<void> {
    if (from === to) return;
    const key = `${producerId}>${to.id}`;
    let pipe = this.#pipes.get(key);
    if (!pipe) {
      pipe = from.pipeToRouter({ producerId, router: to }).then(({ pipeProducer }) => {
        pipeProducer?.observer.once('close', () => this.#pipes.delete(key));
      });
      pipe.catch(() => this.#pipes.delete(key)); // a failed pipe may be retried by the next consumer
      this.#pipes.set(key, pipe);
    }
    await pipe;
  }

  close(): void {
    this.#closed = true;
    for (const router of this.#byWorker.values()) router.close();
  }

  /** A new router for this room, on worker `index` (or the least-loaded live one). */
  async #grow(index: number | undefined): Promise<PooledRouter> {
    const router = await this.pool.createRouter(this.mediaCodecs, index);
    if (this.#closed) {
      router.close();
      throw new Error('the room closed');
    }
    // Joins that arrive together all see the budget spent and grow onto the same worker: keep the
    // first router, or the ones replaced in #byWorker would be left open after the room closes.
    const existing = this.#byWorker.get(router.appData.workerIndex);
    if (existing && !existing.closed) {
      router.close();
      return existing;
    }
    this.#add(router);
    this.logger.info({ workerIndex: router.appData.workerIndex, routers: this.#byWorker.size }, 'room grew onto another worker');
    return router;
  }

  #add(router: PooledRouter): void {
    const index = router.appData.workerIndex;
    this.#byWorker.set(index, router);
    const forget = () => {
      if (this.#byWorker.get(index) === router) this.#byWorker.delete(index);
    };
    router.observer.once('close', forget);
    // Only a worker's death (or the pool closing) closes a router this way; the room's own close does not.
    router.once('workerclose', () => {
      forget();
      if (!this.#closed) this.emit('lost', router, router === this.#main);
    });
  }
}
