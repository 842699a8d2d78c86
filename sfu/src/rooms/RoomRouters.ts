import type { types } from 'mediasoup';
import type { Logger } from '../logger.ts';
import type { PooledRouter, WorkerPool } from '../media/WorkerPool.ts';

/**
 * A room's routers, one per worker it uses. The room starts on one router; when that worker holds
 * more consumers than the budget, newcomers are placed on a router on the least-loaded other worker,
 * and producers reach them through pipeToRouter (mediasoup keeps one pipe transport pair per router
 * pair, so a pipe is per worker, never per viewer).
 */
export class RoomRouters {
  readonly #byWorker = new Map<number, PooledRouter>();
  /** Pending or done pipes, keyed `producerId>routerId`, so concurrent consumers share one. */
  readonly #pipes = new Map<string, Promise<void>>();

  constructor(
    readonly main: PooledRouter,
    private readonly pool: WorkerPool,
    private readonly mediaCodecs: types.RtpCodecCapability[],
    private readonly consumerBudget: number,
    private readonly logger: Logger,
  ) {
    this.#byWorker.set(main.appData.workerIndex, main);
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
      // Every worker already hosts this room: use the least loaded of them.
      return this.all().reduce((a, b) =>
        this.pool.consumersOn(b.appData.workerIndex) < this.pool.consumersOn(a.appData.workerIndex) ? b : a,
      );
    }
    const router = await this.pool.createRouter(this.mediaCodecs, index);
    this.#byWorker.set(index, router);
    router.observer.once('close', () => this.#byWorker.delete(index));
    this.logger.info({ workerIndex: index, routers: this.#byWorker.size }, 'room grew onto another worker');
    return router;
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
    for (const router of this.#byWorker.values()) router.close();
  }
}
