import type { Config } from '../../../config/index.ts';
import type { RoomKind } from '../../../shared/index.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import type { Logger } from '../logger.ts';
import { routerMediaCodecs } from '../media/codecs.ts';
import type { WorkerPool } from '../media/WorkerPool.ts';
import type { Network } from '../network/Network.ts';
import type { Recordings } from '../recording/Recordings.ts';
import { Room } from './Room.ts';
import { RoomRouters } from './RoomRouters.ts';
import { SpeakerDetector } from './SpeakerDetector.ts';
import { TypedEmitter } from '../typed-emitter.ts';

/**
 * Live rooms by id. Creation is keyed by id with the pending promise stored before the first await,
 * so simultaneous joins to a new id share one router instead of racing to make two.
 */
export class RoomRegistry extends TypedEmitter<{ roomCreated: [room: Room]; roomClosed: [roomId: string] }> {
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();

  constructor(
    readonly directory: RoomDirectory,
    private readonly pool: WorkerPool,
    private readonly network: Network,
    private readonly config: Config,
    private readonly logger: Logger,
    /** Server-wide: the recordings folder, composite renders, download links. */
    readonly recordings: Recordings,
  ) {
    super();
  }

  get size(): number {
    return this.#rooms.size;
  }

  get(roomId: string): Room | undefined {
    return this.#rooms.get(roomId);
  }

  rooms(): Room[] {
    return [...this.#rooms.values()];
  }

  /** The live room, or a new one of `kind` (the access policy decided it from the stored room). */
  async getOrCreate(roomId: string, kind: RoomKind): Promise<Room> {
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(roomId);
    if (!pending) {
      pending = this.#create(roomId, kind).finally(() => this.#creating.delete(roomId));
      this.#creating.set(roomId, pending);
    }
    return pending;
  }

  /** Everyone in this node's rooms (viewers included): what cluster placement compares. */
  peerCount(): number {
    let count = 0;
    for (const room of this.#rooms.values()) count += room.peers.size;
    return count;
  }

  closeAll(): void {
    for (const room of [...this.#rooms.values()]) room.close('shutdown');
  }

  async #create(roomId: string, kind: RoomKind): Promise<Room> {
    const codecs = routerMediaCodecs(this.config.media);
    const logger = this.logger.child({ roomId });
    const main = await this.pool.createRouter(codecs);
    const routers = new RoomRouters(main, this.pool, codecs, this.config.workers.consumerBudget, logger);
    const speakers = await SpeakerDetector.create(main, this.config.speakers);
    const room = new Room(roomId, kind, routers, speakers, this.network, this.directory, this.config, logger, this.recordings);
    this.#rooms.set(roomId, room);
    room.once('close', () => {
      if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
      this.emit('roomClosed', roomId);
    });
    this.logger.info({ roomId, rooms: this.#rooms.size }, 'room created');
    this.emit('roomCreated', room);
    return room;
  }
}
