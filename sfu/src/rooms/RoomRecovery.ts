import type { RoomCloseReason } from '../../../shared/index.ts';
import type { Logger } from '../logger.ts';
import type { PooledRouter } from '../media/WorkerPool.ts';
import type { Dynacast } from './Dynacast.ts';
import type { Peer } from './Peer.ts';
import type { RoomRouters } from './RoomRouters.ts';
import type { SpeakerDetector } from './SpeakerDetector.ts';

/** What recovery needs of its room. */
export interface RecoveringRoom {
  readonly peers: ReadonlyMap<string, Peer>;
  readonly routers: RoomRouters;
  readonly speakers: SpeakerDetector;
  readonly closed: boolean;
  close(reason: RoomCloseReason): void;
}

/**
 * Keeps a room alive when one of its workers dies. mediasoup has already closed everything on that
 * worker: the router, the transports on it with their producers and consumers, and the pipes to it
 * (so consumers elsewhere of producers that lived there have closed and their clients were told, as
 * when a producer closes). What is left to do: give the room a new main router if the main one died
 * (speaker detection moves there), put the peers of the dead router on a live one, and tell those
 * peers' clients to rebuild their media (`mediaReset`). Nobody leaves; everything but media is kept.
 * Deaths are handled one at a time, in order.
 */
export class RoomRecovery {
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly room: RecoveringRoom,
    private readonly dynacast: Dynacast,
    private readonly logger: Logger,
  ) {
    room.routers.on('lost', (router, wasMain) => {
      this.#queue = this.#queue.then(() => this.#recover(router, wasMain));
    });
  }

  /** Resolves when every worker death seen so far has been handled. */
  settled(): Promise<void> {
    return this.#queue;
  }

  async #recover(lost: PooledRouter, wasMain: boolean): Promise<void> {
    if (this.room.closed) return;
    const started = Date.now();
    const where = { workerIndex: lost.appData.workerIndex, pid: lost.appData.workerPid, wasMain };
    this.logger.warn(where, 'a worker of this room died; moving its part to live workers');
    try {
      if (wasMain) await this.#moveSpeakerDetection();
      const moved = [...this.room.peers.values()].filter((peer) => peer.router === lost || peer.router.closed);
      for (const peer of moved) peer.moveTo(await this.room.routers.routerForNewPeer());
      if (this.room.closed) return;
      // Publishers whose viewers were on the dead worker are asked again for the layers still watched.
      for (const peer of this.room.peers.values()) for (const id of peer.producers.keys()) this.dynacast.touch(id);
      for (const peer of moved) peer.notify('mediaReset', {});
      this.logger.info({ ...where, moved: moved.length, ms: Date.now() - started }, 'room recovered from a worker death');
    } catch (error) {
      // No live router can be had (the server is shutting down, or mediasoup refused): the room ends.
      const reason = this.room.routers.poolClosed ? 'shutdown' : 'worker-died';
      this.logger.error({ ...where, reason, err: error }, 'cannot recover the room from a worker death; closing it');
      this.room.close(reason);
    }
  }

  /** The old main router took its observers along: recreate them on the new one, with every microphone left. */
  async #moveSpeakerDetection(): Promise<void> {
    const { routers, speakers, peers } = this.room;
    const main = await routers.replaceMain();
    await speakers.moveTo(main);
    const microphones = [...peers.values()].flatMap((peer) => {
      const microphone = peer.producerFor('microphone');
      return microphone && !microphone.closed && !peer.router.closed ? [{ peer, microphone }] : [];
    });
    await Promise.all(
      microphones.map(async ({ peer, microphone }) => {
        try {
          await routers.ensureProducerOn(microphone.id, peer.router, main);
          await speakers.addMicrophone(microphone);
        } catch (error) {
          this.logger.warn({ peerId: peer.id, err: error }, 'microphone not watched for speech after a worker death');
        }
      }),
    );
  }
}
