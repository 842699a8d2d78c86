import type { types } from 'mediasoup';
import type { PooledRouter } from '../media/WorkerPool.ts';

/** Room transports accept SCTP messages up to this size (mediasoup's default); chunks are far smaller. */
const MAX_MESSAGE_BYTES = 262_144;

/**
 * The room's DirectTransports, one per router it uses, made when first needed: this process's own
 * end of the data channels (uploads are consumed here, downloads produced here). A data channel can
 * only meet a DirectTransport on its own router, and a room spreads over several routers when it
 * grows; a router whose worker died takes its transport along, and the next use makes a new one.
 */
export class DirectTransports {
  readonly #byRouter = new Map<string, Promise<types.DirectTransport>>();
  #closed = false;

  on(router: PooledRouter): Promise<types.DirectTransport> {
    if (this.#closed) return Promise.reject(new Error('the room\'s files are closed'));
    let pending = this.#byRouter.get(router.id);
    if (!pending) {
      const made = router.createDirectTransport({ maxMessageSize: MAX_MESSAGE_BYTES, appData: { files: true } });
      pending = made;
      this.#byRouter.set(router.id, made);
      made.then(
        (transport) => {
          if (this.#closed) transport.close();
          transport.observer.once('close', () => {
            if (this.#byRouter.get(router.id) === made) this.#byRouter.delete(router.id);
          });
        },
        () => {
          if (this.#byRouter.get(router.id) === made) this.#byRouter.delete(router.id); // the next use tries again
        },
      );
    }
    return pending;
  }

  /** Closes every transport (and with them every data producer and consumer on them). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#byRouter.values()) {
      pending.then((transport) => transport.close(), () => undefined); // a transport never made needs no closing
    }
    this.#byRouter.clear();
  }
}
