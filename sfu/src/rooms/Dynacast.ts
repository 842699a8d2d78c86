import type { Peer, PeerProducer } from './Peer.ts';

const SETTLE_MS = 250;

/**
 * Tells each publisher the highest simulcast layer anyone watches of its camera, so it stops encoding
 * layers nobody receives (and everything when nobody watches), and starts again when someone does.
 * Recomputed a moment after consumers appear, close, pause, resume or change layer, so a burst of
 * changes (a page flip, a join storm) sends one message per producer.
 */
export class Dynacast {
  readonly #pending = new Set<string>();
  /** What each publisher was last told; absent means "all layers", the state a publisher starts in. */
  readonly #told = new Map<string, number>();
  /** Demand from outside this node's consumers (edge nodes), per producer: how many want every layer. */
  readonly #external = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly peers: () => Iterable<Peer>) {}

  touch(producerId: string): void {
    this.#pending.add(producerId);
    this.#timer ??= setTimeout(() => this.#flush(), SETTLE_MS);
  }

  /** Something other than a local consumer (a pipe to an edge node) needs every layer; returns its release. */
  wantAll(producerId: string): () => void {
    this.#external.set(producerId, (this.#external.get(producerId) ?? 0) + 1);
    this.touch(producerId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#external.get(producerId) ?? 1) - 1;
      if (left > 0) this.#external.set(producerId, left);
      else this.#external.delete(producerId);
      this.touch(producerId);
    };
  }

  forget(producerId: string): void {
    this.#pending.delete(producerId);
    this.#told.delete(producerId);
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    this.#timer = undefined;
    const pending = [...this.#pending];
    this.#pending.clear();
    const peers = [...this.peers()];
    for (const producerId of pending) {
      const owner = peers.find((peer) => peer.producers.has(producerId));
      const producer = owner?.producers.get(producerId);
      if (!owner || !producer || producer.type !== 'simulcast') continue;
      const topLayer = producer.rtpParameters.encodings!.length - 1;
      const needed = this.#external.has(producerId) ? topLayer : neededLayer(producer, peers);
      if ((this.#told.get(producerId) ?? topLayer) === needed) continue;
      this.#told.set(producerId, needed);
      owner.notify('producerLayers', { producerId, maxSpatialLayer: needed });
    }
  }
}

/** The highest spatial layer any unpaused consumer of this producer prefers; -1 when none watches. */
function neededLayer(producer: PeerProducer, peers: Peer[]): number {
  const topLayer = producer.rtpParameters.encodings!.length - 1;
  let needed = -1;
  for (const peer of peers) {
    const consumer = peer.consumerOf(producer.id);
    if (!consumer || consumer.closed || consumer.paused) continue;
    needed = Math.max(needed, Math.min(topLayer, consumer.preferredLayers?.spatialLayer ?? topLayer));
  }
  return needed;
}
